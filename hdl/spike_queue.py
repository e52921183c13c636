"""The spike queue between two event stages: a FIFO of entries, expanded into input events.

An event stage's entries and markers (hdl/pool_layer.py) are the next conv layer's input: a
FIFO in block RAM (deep enough for every pooled neuron of an image plus a marker per step,
so it never fills) holds them; the head entry is expanded into one input event per set bit
of its mask (channel g * lanes + l at the entry's cell, in ascending channel order), a
marker into the close of its step. Timing: an entry written in cycle n is at the head in
cycle n + 1, is loaded into the expander in that cycle when the expander is free (or as its
last item is taken) and is offered from cycle n + 2; items follow back to back.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .conv_layer import ConvLayer, conv_item
from .network import index_bits
from .pipeline import CONTROL
from .pool_layer import stage_spikes
from .trees import lowest_set

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
        self.entry = data.StructLayout({"marker": 1, "cy": range(hc), "cx": range(wc),
                                        "g": range(layer.groups), "mask": layer.lanes,
                                        "time": 8})
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
                     wr.data.g.eq(i.g), wr.data.mask.eq(i.mask), wr.data.time.eq(i.time)]
        head = Signal(self.entry)               # the entry being expanded
        have = Signal()
        rest = head.mask & (head.mask - 1)      # its mask without the bit offered now
        lane = Signal(range(self.layer.lanes), name="lane")
        m.d.comb += lane.eq(lowest_set([head.mask[l] for l in range(self.layer.lanes)],
                                       index_bits(self.layer.lanes))[1])
        take = o.valid & o.ready
        done = take & (head.marker | (rest == 0))
        pop = (~have | done) & (count != 0) & ctl.advance
        m.d.comb += [rd.addr.eq(Mux(pop, r_next, r_ptr)), rd.en.eq(ctl.advance),
                     o.valid.eq(have), o.payload.close.eq(head.marker),
                     o.payload.c.eq(head.g * self.layer.lanes + lane),
                     o.payload.y.eq(head.cy), o.payload.x.eq(head.cx),
                     o.payload.time.eq(head.time), self.busy.eq(have | (count != 0))]
        m.d.sync += [w_ptr.eq(w_ptr + push), count.eq(count + push - pop)]
        with m.If(take):
            m.d.sync += head.mask.eq(rest)
        with m.If(done):
            m.d.sync += have.eq(0)
        with m.If(pop):
            m.d.sync += [head.eq(rd.data), have.eq(1), r_ptr.eq(r_next), r_next.eq(r_next + 1)]
        with m.If(ctl.clear):
            m.d.sync += [w_ptr.eq(0), r_ptr.eq(0), r_next.eq(1), count.eq(0), have.eq(0)]
        return m
