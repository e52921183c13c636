"""Property 1: the frame receiver returns to idle within a stated bound after any byte sequence.

The harness drives ``hdl/frame_receiver.py`` ``FrameReceiver`` with any byte stream (valid
and value free in every cycle), any buffer state in range (``batch_end`` <= event capacity,
``batch_images`` <= image capacity) and a board that answers a received frame (takes
``o_frame``) at most ``answer_wait`` cycles after it is offered. It counts ``quiet``, the
cycles since the last byte, and asserts

    the receiver is in SYNC (idle)  or  quiet <= max(timeout, answer_wait)

for the Arty configuration's timeout (``clk_freq // 20`` = 5,000,000 cycles at 100 MHz, as
``hdl/board.py`` builds it). The proof is by k-induction, so the bound's size costs nothing:
the harness looks inside the receiver (white box) for its FSM state and its ``silence``
counter and asserts the invariants that make the property inductive (``silence`` is
``quiet`` saturated at ``timeout``; a frame waits no longer than the board takes to answer).
"""
from __future__ import annotations

from amaranth import *
from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, Cover, Fragment

from ..frame_receiver import FrameReceiver
from ..network import event_layout

__all__ = ["FrameHarness", "ARTY_TIMEOUT"]

ARTY_TIMEOUT = 100_000_000 // 20          # hdl/board.py: timeout = clk_freq // 20


def _register(fragment: Fragment, name: str) -> Signal:
    """The register ``name`` that ``fragment`` drives (white-box access for assertions)."""
    found = [s for s in fragment.statements["sync"]._lhs_signals() if s.name == name]
    if len(found) != 1:
        raise LookupError(f"{len(found)} registers named {name!r} in the frame receiver")
    return found[0]


class FrameHarness(Elaboratable):
    """A FrameReceiver fed any bytes, answered within ``answer_wait`` cycles.

    Parameters
    ----------
    timeout : int
        The receiver's silence timeout in cycles.
    answer_wait : int
        Most cycles the board leaves a received frame unanswered.
    event_capacity, image_capacity, n_in : int
        The buffers and the event layout (Arty: 1024, 256; n_in 784).
    weights : bool
        The receiver of a runtime-weights build (WEIGHTS frames; ``o_load`` taken whenever
        the loader likes).
    """

    def __init__(self, *, timeout: int = ARTY_TIMEOUT, answer_wait: int = 64,
                 event_capacity: int = 1024, image_capacity: int = 256, n_in: int = 784,
                 weights: bool = False):
        self.receiver = FrameReceiver(event_layout=event_layout(n_in),
                                      event_capacity=event_capacity,
                                      image_capacity=image_capacity, timeout=timeout,
                                      weights=weights)
        self.timeout, self.answer_wait = timeout, answer_wait
        self.event_capacity, self.image_capacity = event_capacity, image_capacity
        self.bound = max(timeout, answer_wait)

    def elaborate(self, platform):
        m = Module()
        rx = self.receiver
        fragment = Fragment.get(rx, platform)
        m.submodules.receiver = fragment
        state, silence = _register(fragment, "fsm_state"), _register(fragment, "silence")
        encoding = fragment.generated["fsm"].encoding
        m.d.comb += [Assume(~ResetSignal()),
                     rx.i_byte.valid.eq(AnySeq(1)), rx.i_byte.payload.eq(AnySeq(8)),
                     rx.batch_end.eq(AnySeq(len(rx.batch_end))),
                     rx.batch_images.eq(AnySeq(len(rx.batch_images))),
                     rx.o_frame.ready.eq(AnySeq(1)),
                     Assume(rx.batch_end <= self.event_capacity),
                     Assume(rx.batch_images <= self.image_capacity)]
        if rx.weights:
            m.d.comb += rx.o_load.ready.eq(AnySeq(1))
        # The board answers: o_frame waits at most answer_wait cycles.
        waited = Signal(range(self.answer_wait + 1))
        with m.If(rx.o_frame.valid & ~rx.o_frame.ready):
            m.d.sync += waited.eq(waited + 1)
        with m.Else():
            m.d.sync += waited.eq(0)
        m.d.comb += Assume(~rx.o_frame.valid | rx.o_frame.ready | (waited < self.answer_wait))
        # Cycles since the last byte (0: a byte came in the cycle before), saturated.
        quiet = Signal(range(self.bound + 2))
        with m.If(rx.i_byte.valid):
            m.d.sync += quiet.eq(0)
        with m.Elif(quiet <= self.bound):
            m.d.sync += quiet.eq(quiet + 1)
        idle = state == encoding["SYNC"]
        m.d.comb += [
            Assert(idle | (quiet <= self.bound)),             # the property
            # What makes it inductive: the FSM holds one of its states, silence is quiet
            # saturated at the timeout, and a frame on offer has been quiet no longer than it
            # has waited.
            Assert(state <= max(encoding.values())),
            Assert(silence == Mux(quiet > self.timeout, self.timeout, quiet)),
            Assert(~rx.o_frame.valid | (quiet <= waited)),
            Cover(~idle & (quiet == self.bound)),          # the bound is tight
        ]
        return m
