"""From the last event stage to the dense layers: the flattened fired vector.

The dense layers (hdl/dense_layer.py) recompute their potentials from the fired vector of
the layer below at each of its compares (``layer_out``). Here that vector is a register of
the last stage's output map, flattened in C order (docs/numerics.md, "Convolution"): an
entry sets its channels' bits at its cell, and a marker -- every spike of time t + 1 is in
-- is the compare of step t that the first dense layer takes, one cycle after the marker
(an entry's bits are set one cycle after it arrives).
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .conv_layer import ConvLayer
from .pipeline import CONTROL, Stages, layer_out
from .pool_layer import stage_spikes

__all__ = ["Flatten"]


class Flatten(wiring.Component):
    """Fired vector of the stage of ``layer`` as the dense layers' input.

    Members
    -------
    ctl : In(CONTROL)
    i : In(stage_spikes)  the stage's entries and markers
    o : Out(layer_out(N))  one compare per marker (``cross`` is 0: the stage's spikes are
        reported by the stage itself)
    busy : Out(1)  a marker's compare is on ``o``
    """

    def __init__(self, layer: ConvLayer):
        self.layer = layer
        c, h, w = layer.stage.pooled_shape
        self.width = c * h * w
        super().__init__({"ctl": In(CONTROL), "i": In(stage_spikes(layer)),
                          "o": Out(layer_out(self.width)), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        ctl, i, o, lanes = self.ctl, self.i, self.o, self.layer.lanes
        c_n, h, w = self.layer.stage.pooled_shape
        fired = Signal(self.width, name="fired")
        st = Stages(m, ctl.advance)
        entry = ctl.go & i.valid & ~i.marker
        # an entry's cell, group and lanes decoded into registers, then each bit set by a
        # 4-input AND: the decode and the 2,000-odd bit vector are a cycle apart
        at_y = [st.reg(1, f"at_y{y}", entry & (i.cy == y)) for y in range(h)]
        at_x = [st.reg(1, f"at_x{x}", i.cx == x, reset=False) for x in range(w)]
        in_g = [st.reg(1, f"in_g{g}", i.g == g, reset=False) for g in range(self.layer.groups)]
        lane = st.reg(lanes, "lane", i.mask, reset=False)
        sets = [at_y[y] & at_x[x] & in_g[c // lanes] & lane[c % lanes]
                for c in range(c_n) for y in range(h) for x in range(w)]
        m.d.sync += fired.eq(fired | Cat(*sets))
        mark = st.reg(1, "mark", ctl.go & i.valid & i.marker)
        time = st.reg(8, "mark_time", i.time - 1, reset=False)
        m.d.comb += [o.fired.eq(fired), o.valid.eq(mark), o.live.eq(mark), o.time.eq(time),
                     self.busy.eq(mark)]
        st.clear(ctl.clear)
        with m.If(ctl.clear):
            m.d.sync += fired.eq(0)
        return m
