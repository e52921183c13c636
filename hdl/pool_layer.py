"""Earliest-spike pooling: an OR of fired flags, with no step of delay (docs/numerics.md,
"Pooling"); and the event stage's output, the spikes the next layer takes.

The conv layer compares one pooling cell (Pp x Pp positions, all in distinct banks) per
cycle and hands over, per channel lane, the cell's crossings and its fired flags before the
compare (``conv_compare``). A pooled neuron fires when one of its window's neurons crosses
and none had fired before: ``any(cross) & ~any(was)``, in the compare's own pass, so its
time is the crossing's. Each compare that fires pooled neurons becomes one *entry* (cell,
channel group, the group's new spikes as a mask, time); once the pass of a step has ended
and gave at least one entry, a *marker* follows one cycle later: every spike of that time
has been handed on. Entries and markers leave through a register, one cycle after the
compare's results arrive. With ``pool`` = 1 (no pooling layer) the cell is one position and the
entries are the conv layer's own spikes. A cell past the last whole pooling window (a map
not divisible by Pp) has no pooled neuron and gives no entry.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .conv_layer import ConvLayer, conv_compare
from .pipeline import CONTROL, Stages

__all__ = ["PoolLayer", "stage_spikes"]


def stage_spikes(layer: ConvLayer) -> wiring.Signature:
    """The stage's output, one per cycle at most. valid & ~marker: an entry -- pooled neurons
    (channel g * lanes + l for bit l of ``mask``) of cell (cy, cx) fire at ``time``;
    valid & marker: every spike of ``time`` has been sent."""
    hc, wc = layer.cells
    return wiring.Signature({"valid": Out(1), "marker": Out(1), "cy": Out(range(hc)),
                             "cx": Out(range(wc)), "g": Out(range(layer.groups)),
                             "mask": Out(layer.lanes), "time": Out(8)})


class PoolLayer(wiring.Component):
    """Pooling (or, with ``pool`` = 1, the plain spike output) of one conv layer.

    Members
    -------
    ctl : In(CONTROL)
    i : In(conv_compare)  the conv layer's compares
    o : Out(stage_spikes)  entries and markers
    new : Out(lanes)  the pooled neurons firing this cycle (for the spike reporter)
    busy : Out(1)  a marker to send
    """

    def __init__(self, layer: ConvLayer):
        self.layer = layer
        super().__init__({"ctl": In(CONTROL), "i": In(conv_compare(layer)),
                          "o": Out(stage_spikes(layer)), "new": Out(layer.lanes),
                          "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        ctl, i, o, lanes = self.ctl, self.i, self.o, self.layer.lanes
        banks = self.layer.kernel ** 2
        crossed = [Cat(*[i.cross[b * lanes + l] for b in range(banks)]).any() for l in range(lanes)]
        before = [Cat(*[i.was[b * lanes + l] for b in range(banks)]).any() for l in range(lanes)]
        new = Cat(*[c & ~w for c, w in zip(crossed, before)]) & i.whole.replicate(lanes)
        entry = ctl.go & i.valid & new.any()
        sent, pending = Signal(), Signal()      # an entry in this pass / a marker to send
        pending_t = Signal(8)
        st = Stages(m, ctl.advance)
        # registered out: the pooling OR and the queue's or the flattening's decode of an
        # entry are a cycle apart
        outs = {"valid": entry | (ctl.go & pending), "marker": pending, "cy": i.cy,
                "cx": i.cx, "g": i.g, "mask": new, "time": Mux(pending, pending_t, i.time)}
        for k, v in outs.items():
            m.d.comb += getattr(o, k).eq(st.reg(getattr(o, k), f"o_{k}", v,
                                                reset=k in ("valid", "marker")))
        m.d.comb += [self.new.eq(Mux(ctl.go & i.valid, new, 0)), self.busy.eq(pending | o.valid)]
        with m.If(ctl.go):
            with m.If(entry):
                m.d.sync += sent.eq(1)
            with m.If(pending):
                m.d.sync += pending.eq(0)
            with m.If(i.end):
                m.d.sync += [pending.eq(sent | entry), pending_t.eq(i.time), sent.eq(0)]
        st.clear(ctl.clear)
        with m.If(ctl.clear):
            m.d.sync += [sent.eq(0), pending.eq(0)]
        return m
