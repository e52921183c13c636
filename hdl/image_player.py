"""Plays buffered images into the core, one event (a beat of the core's ``i_event``: one or
more events of a step) per cycle, and stores the core's results.

The events of a run, ``[first, end)`` of the event buffer, go to the core back to back (a
batch is one run of many images), so the run's cycle count measures the core, not the UART.
"""

from amaranth import Module, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .skid import SkidBuffer

__all__ = ["ImagePlayer", "run_layout"]


def run_layout(event_capacity, image_capacity):
    """A run: event buffer span ``[first, end)`` holding ``images`` images."""
    ends = Shape.cast(range(event_capacity + 1))
    return data.StructLayout({"first": ends, "end": ends,
                              "images": Shape.cast(range(image_capacity + 1))})


class ImagePlayer(wiring.Component):
    """Event buffer -> core ``i_event``; core ``o_result`` -> result buffer.

    Parameters
    ----------
    event_layout, result_layout : data.StructLayout
        The core's event and result.
    event_capacity, image_capacity : int
        Event and result buffer depths.

    Members
    -------
    i_run : In(stream.Signature(run_layout(event_capacity, image_capacity)))
        A run; held while it plays, ``ready`` once its last result is stored and its last
        event taken (in early mode a result may come before its image's last event: the
        rest is still fed, so the next image starts on a clean core).
    events : In(ReadPort.Signature)
        The event buffer's read port.
    results : In(WritePort.Signature)
        The result buffer's write port: result k of the run goes to address k.
    o_event : Out(stream.Signature(event_layout))
        To the core.
    i_result : In(stream.Signature(result_layout))
        From the core.
    cycles : Out(32)
        The last run's cycles, first event accepted -> last result and last event accepted.
    label : Out(8)
        The last result's label.
    """

    def __init__(self, *, event_layout, result_layout, event_capacity, image_capacity):
        self.event_layout = event_layout
        super().__init__({
            "i_run": In(stream.Signature(run_layout(event_capacity, image_capacity))),
            "events": In(ReadPort.Signature(addr_width=ceil_log2(event_capacity),
                                            shape=event_layout)),
            "results": In(WritePort.Signature(addr_width=ceil_log2(image_capacity),
                                              shape=result_layout)),
            "o_event": Out(stream.Signature(event_layout)),
            "i_result": In(stream.Signature(result_layout)),
            "cycles": Out(32),
            "label": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        run = self.i_run.payload
        rd_ptr = Signal.like(run.first)
        rd_next = Signal(len(run.first) + 1)       # rd_ptr + 1, kept in a register
        more = Signal()                            # rd_ptr != play_end, kept in a register
        play_end = Signal.like(run.end)
        n_results = Signal.like(run.images)
        results_done = Signal()
        counting = Signal()
        cycles = Signal(32)

        # The event memory's output goes through a register stage to the core (a block RAM's
        # clock-to-output is too slow to reach the core's ROM address in the same cycle).
        m.submodules.ev_reg = ev_reg = SkidBuffer(self.event_layout)
        wiring.connect(m, ev_reg.o, wiring.flipped(self.o_event))
        m.d.comb += [self.events.addr.eq(rd_ptr), ev_reg.i.payload.eq(self.events.data),
                     self.results.addr.eq(n_results), self.results.data.eq(self.i_result.payload)]
        fire = ev_reg.i.valid & ev_reg.i.ready
        with m.If(counting):
            m.d.sync += cycles.eq(cycles + 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.i_run.valid):
                    m.d.sync += [rd_ptr.eq(run.first), rd_next.eq(run.first + 1),
                                 more.eq(run.first != run.end), play_end.eq(run.end),
                                 n_results.eq(0), results_done.eq(0)]
                    m.next = "PRIME"
            with m.State("PRIME"):
                m.next = "PLAY"         # the event memory reads rd_ptr (one cycle of latency)
            with m.State("PLAY"):
                # The event at rd_ptr is on the memory's output; on a transfer the next one is
                # read ahead (rd_next, more: registers, so no adder or compare sits between
                # the core's ready and the memory's address).
                m.d.comb += ev_reg.i.valid.eq(more)
                with m.If(fire):
                    m.d.comb += self.events.addr.eq(rd_next)
                    m.d.sync += [rd_ptr.eq(rd_next), rd_next.eq(rd_next + 1),
                                 more.eq(rd_next != play_end)]
                    with m.If(~counting):
                        m.d.sync += [counting.eq(1), cycles.eq(1)]
                m.d.comb += self.i_result.ready.eq(1)
                with m.If(self.i_result.valid):
                    m.d.comb += self.results.en.eq(1)
                    m.d.sync += [n_results.eq(n_results + 1),
                                 self.label.eq(self.i_result.payload.label)]
                    with m.If(n_results + 1 == run.images):
                        m.d.sync += results_done.eq(1)
                # Both conditions are registers (one cycle late), so the core's `valid` and
                # the event handshake do not reach the FSM combinationally.
                with m.If(results_done & ~more):
                    m.d.sync += [counting.eq(0), self.cycles.eq(cycles)]
                    m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.i_run.ready.eq(1)
                m.next = "IDLE"
        return m
