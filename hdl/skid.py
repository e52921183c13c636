"""A stream register that keeps full throughput: valid, payload and ready all registered.

Put in front of a component's input it cuts the combinational paths from whatever drives the
stream (a block RAM's slow clock-to-output, say) into the component, and the component's
``ready`` logic away from the source. Two entries: when the output stalls, the word accepted
in the same cycle goes to the second one, so ``i.ready`` can be a register.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """Two-entry stream register.

    Parameters
    ----------
    shape : shape-like
        The payload shape.

    Members
    -------
    i : In(stream.Signature(shape))
    o : Out(stream.Signature(shape))
    """

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        spare = Signal.like(self.i.payload, name="spare")
        spare_full = Signal()
        m.d.comb += self.i.ready.eq(~spare_full)
        with m.If(self.o.ready | ~self.o.valid):
            # The output register moves on: refill it from the spare word or the input.
            m.d.sync += self.o.valid.eq(spare_full | self.i.valid)
            with m.If(spare_full):
                m.d.sync += [self.o.payload.eq(spare), spare_full.eq(0)]
            with m.Else():
                m.d.sync += self.o.payload.eq(self.i.payload)
        with m.Elif(self.i.valid & ~spare_full):
            # The output is stalled: park the word accepted this cycle.
            m.d.sync += [spare.eq(self.i.payload), spare_full.eq(1)]
        return m
