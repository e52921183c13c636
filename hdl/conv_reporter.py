"""Spike reports of a conv network's core: every crossing on ``o_spike``, one per cycle.

Like hdl/spike_reporter.py, but the crossings of a cycle come from *sources* of different
shapes: a conv layer's compare (a bank x lane grid at one cell), a pooling layer's new
spikes (the lanes of one cell) and the dense layers' crossing vectors. Each source says how
its bit (row, column) and the context it captured (cell, channel group) make a neuron index
of its layer (C order). While anything captured is left the pipeline stalls (``pending``);
a cycle's spikes go out lower source first, then lower row, then lower column.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .network import index_bits, spike_layout
from .pipeline import CONTROL
from .trees import any_of, lowest_set

__all__ = ["ReportSource", "ConvSpikeReporter"]


@dataclass
class ReportSource:
    """A source of crossings: ``rows`` x ``cols`` bits (bit r * cols + c), captured with
    ``fields`` (name -> shape) and the spike time; ``index(ctx, row, col)`` builds the
    neuron's index from the captured fields (a dict of signals) and the bit's position."""
    layer: int
    rows: int
    cols: int
    index: Callable
    fields: dict = field(default_factory=dict)

    def signature(self) -> wiring.Signature:
        return wiring.Signature({"bits": Out(self.rows * self.cols), "time": Out(9),
                                 **{k: Out(v) for k, v in self.fields.items()}})


class ConvSpikeReporter(wiring.Component):
    """Members: ``src<k>`` In(source k's signature), ``ctl``, ``capture`` In(1) (take this
    cycle's crossings), ``o_spike`` Out(stream), ``pending`` Out(1)."""

    def __init__(self, sources: list[ReportSource], n_layers: int, max_width: int):
        self.sources = sources
        ports = {f"src{k}": In(s.signature()) for k, s in enumerate(sources)}
        super().__init__({**ports, "ctl": In(CONTROL), "capture": In(1),
                          "o_spike": Out(stream.Signature(spike_layout(n_layers, max_width))),
                          "pending": Out(1)})

    def elaborate(self, platform):
        m = Module()
        sp, found = self.o_spike.payload, []
        for k, s in enumerate(self.sources):
            port = getattr(self, f"src{k}")
            bits = Signal(s.rows * s.cols, name=f"rep{k}")
            ctx = {n: Signal.like(getattr(port, n), name=f"rep{k}_{n}")
                   for n in ["time", *s.fields]}
            with m.If(self.capture):
                m.d.sync += bits.eq(port.bits)
                m.d.sync += [ctx[n].eq(getattr(port, n)) for n in ctx]
            with m.If(self.ctl.clear):
                m.d.sync += bits.eq(0)
            rows = [bits[r * s.cols:(r + 1) * s.cols] for r in range(s.rows)]
            hit, row = Signal(name=f"rep{k}_hit"), Signal(range(s.rows), name=f"rep{k}_row")
            sel, col = Signal(s.cols, name=f"rep{k}_sel"), Signal(range(s.cols), name=f"rep{k}_col")
            neuron = Signal.like(self.o_spike.payload.neuron, name=f"rep{k}_neuron")
            any_row, low_row = lowest_set([r.any() for r in rows], index_bits(s.rows))
            m.d.comb += [hit.eq(any_row), row.eq(low_row),
                         sel.eq(Array(rows)[row] if s.rows > 1 else rows[0])]
            m.d.comb += col.eq(lowest_set([sel[c] for c in range(s.cols)], index_bits(s.cols))[1])
            m.d.comb += neuron.eq(s.index(ctx, row, col))
            found.append((hit, bits, row * s.cols + col, neuron, ctx["time"], s))
        m.d.comb += self.pending.eq(any_of([f[0] for f in found]))
        first = Const(1, 1)
        for hit, bits, bit, neuron, time, s in found:
            with m.If(first & hit):
                m.d.comb += [self.o_spike.valid.eq(1), sp.layer.eq(s.layer),
                             sp.neuron.eq(neuron), sp.time.eq(time)]
                with m.If(self.o_spike.ready):
                    m.d.sync += bits.eq(bits & ~Cat(*[bit == k for k in range(len(bits))]))
            first = first & ~hit
        return m
