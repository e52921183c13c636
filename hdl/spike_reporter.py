"""The spike reporter: every crossing of every layer on the ``o_spike`` debug stream.

While it has spikes to send the pipeline stalls (``pending``), so each compare's spikes go
out before the next compare: lower layer first, then lower index.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .network import index_bits, spike_layout
from .pipeline import CONTROL, layer_out
from .trees import any_of, lowest_set

__all__ = ["SpikeReporter"]


class SpikeReporter(wiring.Component):
    """Reports the crossings captured from every layer's compare, one per cycle.

    Parameters
    ----------
    widths : list of int
        Neurons of each weight layer (N1 .. N_out).

    Members
    -------
    ctl : In(CONTROL)
    layer<l> : In(layer_out(N_l+1))  each layer's compares
    capture : In(1)  take this cycle's crossings (debug on, the image running)
    o_spike : Out(stream)  layer, neuron, time u9
    pending : Out(1)  crossings left to send (the pipeline stalls)
    """

    def __init__(self, widths):
        self.widths = list(widths)
        ports = {f"layer{l}": In(layer_out(w)) for l, w in enumerate(self.widths)}
        super().__init__({**ports, "ctl": In(CONTROL), "capture": In(1),
                          "o_spike": Out(stream.Signature(spike_layout(len(self.widths),
                                                                       max(self.widths)))),
                          "pending": Out(1)})

    def elaborate(self, platform):
        m = Module()
        layers = [getattr(self, f"layer{l}") for l in range(len(self.widths))]
        rep = [Signal(w, name=f"rep{l}") for l, w in enumerate(self.widths)]
        rep_t = [Signal(9, name=f"rep{l}_time") for l in range(len(self.widths))]
        m.d.comb += self.pending.eq(any_of([r.any() for r in rep]))
        with m.If(self.capture):
            m.d.sync += [r.eq(x.cross) for r, x in zip(rep, layers)]
            m.d.sync += [r.eq(x.time + 1) for r, x in zip(rep_t, layers)]
        nb = index_bits(max(self.widths))
        found = [lowest_set([r[j] for j in range(len(r))], nb) for r in rep]
        sp = self.o_spike.payload
        first = Const(1, 1)
        for l, r in enumerate(rep):
            with m.If(first & found[l][0]):
                m.d.comb += [self.o_spike.valid.eq(1), sp.layer.eq(l),
                             sp.neuron.eq(found[l][1]), sp.time.eq(rep_t[l])]
                with m.If(self.o_spike.ready):
                    m.d.sync += r.eq(r & (r - 1))           # clear the lowest set bit
            first = first & ~found[l][0]
        with m.If(self.ctl.clear):
            m.d.sync += [r.eq(0) for r in rep]
        return m
