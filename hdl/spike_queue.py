"""The spike queue between two event stages: a FIFO of entries, expanded into input events.

An event stage's entries and markers (hdl/pool_layer.py) are the next conv layer's input: a
FIFO in block RAM (deep enough for every pooled neuron of an image plus a marker per step,
so it never fills) holds them; the head entry is expanded into one input event per set bit
of its mask (channel g * lanes + l at the entry's cell, in ascending channel order), a
marker into the close of its step. The items leave through a two-entry output register
whose ``ready`` towards the expander is a flip-flop, so the next layer's ``ready`` logic
does not reach the FIFO's read address. Timing: an entry written in cycle n is at the head
in cycle n + 1, is loaded into the expander in that cycle when the expander is free (or as
its last item is handed on) and is offered to the next layer from cycle n + 3; items follow
back to back.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .conv_layer import ConvLayer, conv_item
from .network import index_bits
from .pipeline import CONTROL
from .pool_layer import stage_spikes
from .trees import at_most_one, lowest_set

__all__ = ["SpikeQueue"]


class SpikeQueue(wiring.Component):
    """FIFO and expander from the event stage of ``layer`` to the next conv layer.

    Members
    -------
    ctl : In(CONTROL)
    i : In(stage_spikes)  entries and markers of the stage below
    o : Out(stream)  conv_item of the stage's output map -- the next layer's input
    busy : Out(1)  entries or items left

    Attributes
    ----------
    depth : int  FIFO words (a power of 2 >= pooled neurons + 255 markers)
    """

    def __init__(self, layer: ConvLayer):
        self.layer = layer
        shape = layer.stage.pooled_shape
        need = shape[0] * shape[1] * shape[2] + 255
        self.depth = 1 << (need - 1).bit_length()
        hc, wc = layer.cells
        # single: the mask has at most one bit (formed at the push, not after the read)
        self.entry = data.StructLayout({"marker": 1, "cy": range(hc), "cx": range(wc),
                                        "g": range(layer.groups), "mask": layer.lanes,
                                        "single": 1, "time": 8})
        super().__init__({"ctl": In(CONTROL), "i": In(stage_spikes(layer)),
                          "o": Out(stream.Signature(conv_item(shape))), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        ctl, i, o, D = self.ctl, self.i, self.o, self.depth
        m.submodules.fifo = fifo = memory.Memory(shape=self.entry, depth=D, init=[])
        wr = fifo.write_port()
        rd = fifo.read_port(transparent_for=(wr,))
        w_ptr, r_ptr, count = Signal(range(D)), Signal(range(D)), Signal(range(D + 1))
        r_next = Signal(range(D), init=1)       # r_ptr + 1, kept in a register
        push = ctl.go & i.valid
        m.d.comb += [wr.en.eq(push), wr.addr.eq(w_ptr),
                     wr.data.marker.eq(i.marker), wr.data.cy.eq(i.cy), wr.data.cx.eq(i.cx),
                     wr.data.g.eq(i.g), wr.data.mask.eq(i.mask), wr.data.time.eq(i.time),
                     wr.data.single.eq(at_most_one(list(i.mask)))]
        head = Signal(self.entry)               # the entry being expanded
        have = Signal()
        rest = head.mask & (head.mask - 1)      # its mask without the bit offered now
        lane = Signal(range(self.layer.lanes), name="lane")
        m.d.comb += lane.eq(lowest_set([head.mask[l] for l in range(self.layer.lanes)],
                                       index_bits(self.layer.lanes))[1])
        item = stream.Signature(conv_item(self.layer.stage.pooled_shape)).create()
        spare = self._output(m, item)
        # Flags kept in registers so that ``pop`` (the read address) is a few gates from
        # flip-flops: ``queued`` = count != 0, ``last`` = the head's mask has at most one bit
        # left (its item now is its last).
        queued, last = Signal(), Signal()
        take = item.valid & item.ready
        done = take & (head.marker | last)
        pop = (~have | done) & queued & ctl.advance
        m.d.comb += [rd.addr.eq(Mux(pop, r_next, r_ptr)), rd.en.eq(ctl.advance),
                     item.valid.eq(have), item.payload.close.eq(head.marker),
                     item.payload.c.eq(head.g * self.layer.lanes + lane),
                     item.payload.y.eq(head.cy), item.payload.x.eq(head.cx),
                     item.payload.time.eq(head.time),
                     self.busy.eq(have | queued | o.valid | spare)]
        # pop only selects between values formed from registers
        m.d.sync += [w_ptr.eq(w_ptr + push),
                     count.eq(Mux(pop, count + push - 1, count + push)),
                     queued.eq(push | Mux(pop, count != 1, queued))]
        with m.If(take):
            m.d.sync += [head.mask.eq(rest), last.eq(at_most_one(list(rest)))]
        with m.If(done):
            m.d.sync += have.eq(0)
        with m.If(pop):
            m.d.sync += [head.eq(rd.data), have.eq(1), r_ptr.eq(r_next), r_next.eq(r_next + 1),
                         last.eq(rd.data.single)]
        with m.If(ctl.clear):
            m.d.sync += [w_ptr.eq(0), r_ptr.eq(0), r_next.eq(1), count.eq(0), have.eq(0),
                         queued.eq(0)]
        return m

    def _output(self, m, item) -> Value:
        """``o`` from ``item`` through a two-entry register: ``item.ready`` is a flip-flop
        (no spare word held) and only moves while the pipeline advances; when ``o`` stalls,
        the word accepted in that cycle waits in the spare register. Emptied in the CLEAR
        cycle. Returns whether the spare holds a word."""
        o, ctl = self.o, self.ctl
        spare = Signal(conv_item(self.layer.stage.pooled_shape), name="spare")
        spare_full = Signal()
        m.d.comb += item.ready.eq(ctl.advance & ~spare_full)
        with m.If(ctl.advance):
            with m.If(o.ready | ~o.valid):
                m.d.sync += o.valid.eq(spare_full | item.valid)
                with m.If(spare_full):
                    m.d.sync += [o.payload.eq(spare), spare_full.eq(0)]
                with m.Else():
                    m.d.sync += o.payload.eq(item.payload)
            with m.Elif(item.valid & ~spare_full):
                m.d.sync += [spare.eq(item.payload), spare_full.eq(1)]
        with m.If(ctl.clear):
            m.d.sync += [o.valid.eq(0), spare_full.eq(0)]
        return spare_full
