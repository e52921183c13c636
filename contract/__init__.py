"""The contract between the model side and the hardware side (docs/contract.md).

numpy only. ``model/``, ``export/``, ``hdl/`` and ``sim/`` all import it; it imports none of
them. It holds what both sides must agree on, in one place each: the numeric constants and
the early-mode spike-time rule (numerics), image -> input events (events), the weight-ROM
format (rom), the artifact reader (artifacts), and atomic writes and checksums (files).
"""
