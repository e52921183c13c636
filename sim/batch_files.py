"""The hex files the bench harness (sim/wrapper.py) loads and dumps with $readmemh / $writememh.

One word a line, in hex, as both simulators read and write them. Verilator is two-state;
Icarus writes an x or z digit where a bit is unknown: such a word reads as 0 with its flag
set, so the scoreboard can report X/Z bits.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def write_hex(path: str | Path, values) -> None:
    """``values`` (non-negative ints) to ``path``, one a line."""
    Path(path).write_text("".join(f"{int(v):x}\n" for v in values))


def read_hex(path: str | Path) -> tuple[list[int], list[bool]]:
    """The words of a $writememh file and, per word, whether it had X/Z digits.

    Address lines (``@...``), comments (``// ...``) and blank lines are skipped; an unknown
    digit reads as 0.
    """
    words, unknown = [], []
    for line in Path(path).read_text().splitlines():
        w = line.split("//", 1)[0].strip().replace("_", "")
        if not w or w.startswith("@"):
            continue
        if HEX_DIGITS.issuperset(w):
            words.append(int(w, 16))
            unknown.append(False)
        else:
            words.append(int("".join(c if c in HEX_DIGITS else "0" for c in w), 16))
            unknown.append(True)
    return words, unknown


def split_fields(words: list[int], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Words ``{high, low[width-1:0]}`` (both < 2**63) as two int64 arrays (high, low)."""
    a = np.asarray(words, dtype=np.int64) if words else np.zeros(0, np.int64)
    return a >> width, a & ((1 << width) - 1)
