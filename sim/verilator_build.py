"""A cocotb Verilator runner that makes only the bench harness's ports visible to the VPI.

cocotb's runner builds with ``--public-flat-rw``: every signal of the design becomes a
public, VPI-writable variable. For the 784-600-10 core (tens of thousands of signals) that
costs twice: the VPI symbol table alone is ~7.5 MB of generated C++ to compile, and since any
signal may change behind the model's back, Verilator can neither inline nor drop
intermediate signals and re-evaluates the input-combinational logic on every eval. Python
only ever touches the harness's ports (sim/wrapper.py), so a control file makes those
public and nothing else.
"""
from __future__ import annotations

import re
from pathlib import Path

from cocotb_tools.runner import Verilator

from sim.wrapper import TOP

PUBLIC_FLAG = "--public-flat-rw"


class HarnessPortsVerilator(Verilator):
    """cocotb's Verilator runner without ``--public-flat-rw`` (pass ``control_file``'s
    file among the sources)."""

    def _build_command(self):
        cmds = super()._build_command()
        cmds[0] = [a for a in cmds[0] if a != PUBLIC_FLAG]
        return cmds


def control_file(path: str | Path, ports: list[str]) -> Path:
    """Write a Verilator control file making ``ports`` of the harness public and writable."""
    path = Path(path)
    lines = ["`verilator_config"] + [f'public_flat_rw -module "{TOP}" -var "{p}"' for p in ports]
    path.write_text("\n".join(lines) + "\n")
    return path


def harness_ports(verilog: str) -> list[str]:
    """The port names of the harness module's Verilog (sim/wrapper.py)."""
    return re.findall(r"^\s*(?:input|output)\s+(?:wire|reg)\s*(?:\[[^\]]*\])?\s*(\w+)", verilog, re.M)
