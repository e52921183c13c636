"""The event front end of a conv network: the image's events as items of the first conv layer.

Each event (time, addr) becomes an input event at (channel, row, column) of the input map
(addr in C order, split by one table lookup: hdl/conv_banks.py); a step is closed by an
item of its own when the first event of a later step (or the end of the image) is at the
input: the first conv layer compares the step then (docs/numerics.md, "Per-step compare").
Steps without events cost nothing. An event is accepted in its first read and its item
goes to an output register (full throughput: it loads whenever it is empty or being taken),
so the layer's issue logic starts from flip-flops, not from the address table; the front
end keeps the next item while the register is occupied. After an early decision the rest
of the image is drained (up to ``last``).
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .conv_banks import split_address
from .conv_layer import conv_item
from .network import event_layout
from .pipeline import CONTROL, Phase

__all__ = ["ConvFrontEnd"]


class ConvFrontEnd(wiring.Component):
    """``i_event`` to the first conv layer's items.

    Members
    -------
    i_event : In(stream)  time u8, addr, last u1 -- one image's events sorted by (time, addr)
    ctl : In(CONTROL)
    o : Out(stream)  conv_item of the input map, from a register
    busy : Out(1)  the output register holds an item
    start : Out(1)  an idle core sees an image's first event
    quiet : Out(1)  the image's last event is in and its last step closed
    input_over : Out(1)  the image's last event is in or being offered
    """

    def __init__(self, in_shape):
        self.in_shape = tuple(in_shape)
        n_in = self.in_shape[0] * self.in_shape[1] * self.in_shape[2]
        super().__init__({"i_event": In(stream.Signature(event_layout(n_in))),
                          "ctl": In(CONTROL), "o": Out(stream.Signature(conv_item(in_shape))),
                          "busy": Out(1), "start": Out(1), "quiet": Out(1), "input_over": Out(1)})

    def elaborate(self, platform):
        m = Module()
        ev, p, ctl = self.i_event, self.i_event.payload, self.ctl
        o = stream.Signature(conv_item(self.in_shape)).create()   # the item, into the register
        self._register(m, o)
        in_done, open_, cur_t, held = Signal(), Signal(), Signal(8), Signal()
        fresh, kept = Signal(conv_item(self.in_shape)), Signal(conv_item(self.in_shape))
        c, y, x = split_address(p.addr, self.in_shape)
        m.d.comb += [fresh.c.eq(c), fresh.y.eq(y), fresh.x.eq(x), fresh.time.eq(p.time)]
        close = ~held & open_ & (in_done | (ev.valid & (p.time != cur_t)))
        new = ~held & ~close & ev.valid & ~in_done
        m.d.comb += [o.valid.eq(held | close | new),
                     o.payload.eq(Mux(held, kept, fresh)), o.payload.close.eq(close),
                     self.start.eq((ctl.phase == Phase.IDLE) & ev.valid),
                     self.quiet.eq(in_done & ~open_),
                     self.input_over.eq(in_done | (ev.valid & p.last))]
        with m.If(close):
            m.d.comb += o.payload.time.eq(cur_t)
        # An event is accepted in its first read (cycles count from the first event's
        # acceptance) and kept until the output register takes it.
        with m.If(new & ctl.advance & ctl.accepting):
            m.d.comb += ev.ready.eq(1)
            m.d.sync += [cur_t.eq(p.time), open_.eq(1), in_done.eq(p.last),
                         held.eq(~o.ready), kept.eq(fresh)]
        with m.If(o.valid & o.ready):
            with m.If(held):
                m.d.sync += held.eq(0)
            with m.If(close):
                m.d.sync += open_.eq(0)
        with m.If((ctl.phase == Phase.RESULT) & ~in_done):
            m.d.comb += ev.ready.eq(1)                  # drain the rest after a decision
            with m.If(ev.valid & p.last):
                m.d.sync += in_done.eq(1)
        with m.If(ctl.clear):
            m.d.sync += [in_done.eq(0), open_.eq(0), held.eq(0)]
        return m

    def _register(self, m, item) -> None:
        """``o`` from a register: it loads ``item`` when empty or being taken (never while
        the pipeline stalls); emptied in the CLEAR cycle."""
        o, ctl = self.o, self.ctl
        m.d.comb += [item.ready.eq(ctl.advance & (~o.valid | o.ready)), self.busy.eq(o.valid)]
        with m.If(item.ready):
            m.d.sync += [o.valid.eq(item.valid), o.payload.eq(item.payload)]
        with m.If(ctl.clear):
            m.d.sync += o.valid.eq(0)
