"""Where a conv layer's potentials live: K x K memory banks by (row mod K, column mod K).

Output position (y, x) of a layer with K x K kernels is in bank (y mod K, x mod K) at block
(y div K, x div K); any K consecutive rows (columns) fall in K distinct bank rows (columns),
so one input event's whole K x K window, and any pooling cell of at most K x K positions,
is one word in each of distinct banks (docs/core.md, "Convolutional layers"). This module
says which block of a bank row (or column) a window or a cell reaches -- each dimension is
handled alike, rows shown -- and turns those answers into constant tables:

* An input event at row y (padding P) reaches output rows y0 - K + 1 .. y0, y0 = y + P; with
  (q, r) = divmod(y0, K), bank row b holds row q K + b when b <= r, else (q - 1) K + b, and
  takes kernel row ky = (r - b) mod K.
* The pooling cell of row cy covers rows s .. s + Pp - 1, s = cy Pp; with (q, r) = divmod(s,
  K), bank row b holds row q K + b when b >= r, else (q + 1) K + b, inside the cell when that
  row is below s + Pp.

Both also need the row to lie in the map (0 .. H - 1). The hardware never divides or
multiplies: every quotient, remainder and scaled block index is a lookup in a table of
constants (``lookup``) indexed by a registered row, column, channel or group, so an address
is at most one addition away from its table (docs/core.md, "The clock").
"""
from __future__ import annotations

from amaranth import *

__all__ = ["lookup", "split_address", "window_block", "cell_block", "rotated_rom"]


def lookup(index: Value, table: list[int], width: int | None = None) -> Value:
    """``table[index]`` as a constant table (a LUT ROM, no arithmetic); an index past the
    table reads 0."""
    index = Value.cast(index)
    width = width or max(1, max(table, default=0).bit_length())
    full = [table[k] if k < len(table) else 0 for k in range(1 << len(index))]
    return Array([C(v, width) for v in full])[index]


def split_address(addr: Value, shape) -> tuple[Value, Value, Value]:
    """(c, y, x) of C-order address ``addr`` in a (C, H, W) map, by one table lookup.

    W = odd * 2^s: the low s bits of x are the address's own; the table, indexed by
    ``addr >> s``, holds c, y and the rest of x (``addr >> s`` = (c H + y) odd + x >> s)."""
    c_n, h, w = shape
    s = (w & -w).bit_length() - 1
    odd = w >> s
    cb, yb, xb = (max(1, (n - 1).bit_length()) for n in (c_n, h, odd))
    table = []
    for hi in range(c_n * h * odd):
        cy, xr = divmod(hi, odd)
        c, y = divmod(cy, h)
        table.append(c | y << cb | xr << (cb + yb))
    word = lookup(Value.cast(addr)[s:], table, cb + yb + xb)
    return word[:cb], word[cb:cb + yb], Cat(Value.cast(addr)[:s], word[cb + yb:])


def window_block(y: int, b: int, K: int, pad: int, n_out: int) -> int | None:
    """The block of bank row ``b`` that an input event at row ``y`` reaches, or None."""
    q, r = divmod(y + pad, K)
    block = q if r >= b else q - 1
    return block if 0 <= block and block * K + b < n_out else None


def cell_block(cy: int, b: int, K: int, pool: int, n_out: int) -> int | None:
    """The block of bank row ``b`` inside pooling-cell row ``cy``, or None."""
    q, r = divmod(cy * pool, K)
    block, offset = (q, b - r) if r <= b else (q + 1, b + K - r)
    return block if offset < pool and block * K + b < n_out else None


def rotated_rom(stage, lanes: int) -> list[int]:
    """The kernel ROM as the banks want it (hdl/conv_layer.py splits it into one ROM per
    group g, words g, g + G, ...): word ((c_in K + ry) K + rx) G + g holds, at bit
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
