"""Formal property harnesses of the core and the board link, run with SymbiYosys.

``python -m hdl.formal`` runs them all (docs/formal.md).
"""
