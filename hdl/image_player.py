"""Plays buffered images into the core, one event (a beat of the core's ``i_event``: one or
more events of a step) per cycle, and stores the core's results.

The events of a run, ``[first, end)`` of the event buffer, go to the core back to back (a
batch is one run of many images), so the run's cycle count measures the core, not the UART.
"""

from amaranth import Module, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2


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

    # Reads in flight plus events queued: a read issued in cycle n reaches the core in
    # n + 4 (memory, register, FIFO write, FIFO output register). Whether there is room is
    # decided a cycle ahead, from a register (the count and its compare stay off the path to
    # the block RAM's read enable), so it reserves room for that cycle's read too: seven keep
    # one event per cycle going (tests/test_image_player.py).
    PREFETCH = 7

    def elaborate(self, platform):
        m = Module()
        run = self.i_run.payload
        rd_ptr = Signal.like(run.first)
        more = Signal()                            # rd_ptr != play_end, kept in a register
        play_end = Signal.like(run.end)
        n_results = Signal.like(run.images)
        results_done = Signal()
        counting = Signal()
        cycles = Signal(32)

        # Event buffer -> register -> FIFO -> core: the block RAM's output (a slow
        # clock-to-output) drives nothing but a register; reads are issued ahead while the
        # FIFO has room for every read in flight, so the core still gets one per cycle.
        m.submodules.queue = queue = SyncFIFOBuffered(width=Shape.cast(self.event_layout).width,
                                                      depth=self.PREFETCH)
        issue, read, landed = Signal(), Signal(), Signal()
        word = Signal(self.event_layout)
        m.d.sync += [read.eq(issue), landed.eq(read)]
        with m.If(read):
            m.d.sync += word.eq(self.events.data)
        m.d.comb += [self.events.addr.eq(rd_ptr), self.events.en.eq(issue),
                     queue.w_en.eq(landed), queue.w_data.eq(word),
                     self.o_event.valid.eq(queue.r_rdy), self.o_event.payload.eq(queue.r_data),
                     queue.r_en.eq(self.o_event.ready),
                     self.results.addr.eq(n_results), self.results.data.eq(self.i_result.payload)]
        # room in cycle n: occupancy(n-1) + issue(n-1) < PREFETCH - 1, which bounds occupancy(n)
        room = Signal()
        m.d.sync += room.eq(queue.level + read + landed + issue < self.PREFETCH - 1)
        fire = self.o_event.valid & self.o_event.ready
        with m.If(counting):
            m.d.sync += cycles.eq(cycles + 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.i_run.valid):
                    m.d.sync += [rd_ptr.eq(run.first), more.eq(run.first != run.end),
                                 play_end.eq(run.end), n_results.eq(0), results_done.eq(0)]
                    m.next = "PLAY"
            with m.State("PLAY"):
                m.d.comb += issue.eq(more & room)
                with m.If(issue):
                    m.d.sync += [rd_ptr.eq(rd_ptr + 1), more.eq(rd_ptr + 1 != play_end)]
                with m.If(fire & ~counting):
                    m.d.sync += [counting.eq(1), cycles.eq(1)]
                m.d.comb += self.i_result.ready.eq(1)
                with m.If(self.i_result.valid):
                    m.d.comb += self.results.en.eq(1)
                    m.d.sync += [n_results.eq(n_results + 1),
                                 self.label.eq(self.i_result.payload.label)]
                    with m.If(n_results + 1 == run.images):
                        m.d.sync += results_done.eq(1)
                # Registers only (one cycle late), so the core's `valid` and the event
                # handshake do not reach the FSM combinationally; the last event has left
                # once nothing is read, in flight or queued.
                drained = ~more & ~read & ~landed & ~queue.r_rdy
                with m.If(results_done & drained):
                    m.d.sync += [counting.eq(0), self.cycles.eq(cycles)]
                    m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.i_run.ready.eq(1)
                m.next = "IDLE"
        return m
