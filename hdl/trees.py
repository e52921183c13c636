"""Small combinational building blocks of the core: OR tree, argmax, priority encoder.

All are balanced trees (logarithmic depth), written as plain Amaranth expressions.
"""
from __future__ import annotations

from amaranth.hdl import Const, Mux, Value, unsigned


def any_of(bits: list[Value]) -> Value:
    """OR of 1-bit values (Const(0) when empty)."""
    vals = list(bits)
    if not vals:
        return Const(0, unsigned(1))
    while len(vals) > 1:
        nxt = [vals[k] | vals[k + 1] for k in range(0, len(vals) - 1, 2)]
        if len(vals) % 2:
            nxt.append(vals[-1])
        vals = nxt
    return vals[0]


def masked_argmax(values: list[Value], mask: list[Value], index_bits: int,
                  stage=None) -> tuple[Value, Value, Value]:
    """(any, value, index) of the largest masked value; the lowest index wins on equal values.

    ``stage(level, nodes) -> nodes``, when given, is called before every comparator level
    with the (mask, value, index) nodes, so that a caller can put registers between levels.
    """
    nodes = [(m, v, Const(k, unsigned(index_bits))) for k, (v, m) in enumerate(zip(values, mask))]
    level = 0
    while len(nodes) > 1:
        if stage is not None:
            nodes = stage(level, nodes)
        nxt = []
        for k in range(0, len(nodes) - 1, 2):
            (ma, va, ia), (mb, vb, ib) = nodes[k], nodes[k + 1]
            take_a = ma & (~mb | (va >= vb))          # left (lower indices) wins on equal
            nxt.append((ma | mb, Mux(take_a, va, vb), Mux(take_a, ia, ib)))
        if len(nodes) % 2:
            nxt.append(nodes[-1])
        nodes = nxt
        level += 1
    return nodes[0]


def lowest_set(bits: list[Value], index_bits: int) -> tuple[Value, Value]:
    """(any, index) of the lowest set bit, as a tree."""
    nodes = [(b, Const(k, unsigned(index_bits))) for k, b in enumerate(bits)]
    while len(nodes) > 1:
        nxt = []
        for k in range(0, len(nodes) - 1, 2):
            (ma, ia), (mb, ib) = nodes[k], nodes[k + 1]
            nxt.append((ma | mb, Mux(ma, ia, ib)))
        if len(nodes) % 2:
            nxt.append(nodes[-1])
        nodes = nxt
    return nodes[0]


def _any_several(bits) -> tuple[Value, Value]:
    """(any set, two or more set) of ``bits``, as a tree (no carry chain)."""
    nodes = [(Value.cast(b), Const(0, 1)) for b in bits]
    while len(nodes) > 1:
        nxt = []
        for k in range(0, len(nodes) - 1, 2):
            (aa, ma), (ab, mb) = nodes[k], nodes[k + 1]
            nxt.append((aa | ab, ma | mb | (aa & ab)))
        if len(nodes) % 2:
            nxt.append(nodes[-1])
        nodes = nxt
    return nodes[0]


def one_hot(bits) -> Value:
    """1 when exactly one of ``bits`` is set."""
    a, many = _any_several(bits)
    return a & ~many


def at_most_one(bits) -> Value:
    """1 when none or one of ``bits`` is set."""
    return ~_any_several(bits)[1]
