"""Where a conv layer's potentials live: K x K memory banks by (row mod K, column mod K).

Output position (y, x) of a layer with K x K kernels is in bank (y mod K, x mod K) at block
(y div K, x div K); any K consecutive rows (columns) fall in K distinct bank rows (columns),
so one input event's whole K x K window, and any pooling cell of at most K x K positions,
is one word in each of distinct banks (docs/core.md, "Convolutional layers"). This module
maps a window or a cell to its banks, one bank row (or column) at a time: each dimension is
handled alike, rows shown.

* An input event at row y (padding P) reaches output rows y0 - K + 1 .. y0, y0 = y + P; with
  (q, r) = divmod(y0, K), bank row b holds row q K + b when b <= r, else (q - 1) K + b, and
  takes kernel row ky = (r - b) mod K.
* The pooling cell of row cy covers rows s .. s + Pp - 1, s = cy Pp; with (q, r) = divmod(s,
  K), bank row b holds row q K + b when b >= r, else (q + 1) K + b, inside the cell when that
  row is below s + Pp.

Both also need the row to lie in the map (0 .. H - 1).
"""
from __future__ import annotations

from amaranth import *

__all__ = ["div_const", "window_rows", "cell_rows", "rotated_rom"]


def div_const(value, d: int, max_value: int) -> tuple[Value, Value]:
    """(value // d, value % d) for 0 <= value <= max_value, by a multiplication and a shift."""
    if d == 1:
        return Value.cast(value), C(0, 1)
    qbits = max(1, (max_value // d).bit_length())
    for s in range(1, 64):
        mul = -(-(1 << s) // d)
        if all((v * mul) >> s == v // d for v in range(max_value + 1)):
            break
    else:                                       # pragma: no cover - s < 64 always works
        raise ValueError(f"no multiply-shift divides 0..{max_value} by {d}")
    q = (Value.cast(value) * mul)[s:s + qbits]
    return q, (Value.cast(value) - q * d)[:max(1, (d - 1).bit_length())]


def window_rows(q, r, K: int, H: int) -> list[tuple[Value, Value]]:
    """Per bank row b: (block, in map) of the output row an input event reaches there
    (``(q, r) = divmod(y + P, K)``)."""
    out = []
    for b in range(K):
        low = r >= b                                    # row q K + b, else (q - 1) K + b
        block = Mux(low, q, q - 1)[:max(1, len(Value.cast(q)))]
        rows_in_map = -(-(H - b) // K)                  # blocks whose row b is < H
        ok = (low | (q != 0)) & (block < rows_in_map)
        out.append((block, ok))
    return out


def cell_rows(q, r, K: int, H: int, pool: int) -> list[tuple[Value, Value]]:
    """Per bank row b: (block, inside) of the cell row starting at ``q K + r`` there."""
    out = []
    for b in range(K):
        same = r <= b                                   # row q K + b, else (q + 1) K + b
        block = Mux(same, q, q + 1)[:max(1, len(Value.cast(q)) + 1)]
        offset = Mux(same, b - r, b + K - r)            # row - cell start
        ok = (offset < pool) & (block < -(-(H - b) // K))
        out.append((block, ok))
    return out


def rotated_rom(stage, lanes: int) -> list[int]:
    """The kernel ROM as the banks want it: word ((c_in K + ry) K + rx) G + g holds, at bit
    (by K + bx) lanes + l, the weight of channel g lanes + l at kernel offset
    ((ry - by) mod K, (rx - bx) mod K) (0 past the last channel)."""
    K, (c_in_n, _, _), c_out = stage.kernel, stage.in_shape, stage.out_shape[0]
    groups = -(-c_out // lanes)
    words = []
    for c_in in range(c_in_n):
        for ry in range(K):
            for rx in range(K):
                for g in range(groups):
                    w = 0
                    for by in range(K):
                        for bx in range(K):
                            for l in range(lanes):
                                c = g * lanes + l
                                if c < c_out and stage.weight(c, c_in, (ry - by) % K,
                                                              (rx - bx) % K):
                                    w |= 1 << ((by * K + bx) * lanes + l)
                    words.append(w)
    return words
