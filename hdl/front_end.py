"""The event front end: takes an image's events, one ROM read per group, and closes steps.

With ``events_per_cycle`` K > 1 each ``i_event`` beat carries up to K events of one step
(hdl/event_beats.py) and the input layer reads their K rows at once; the front end itself
works beat by beat exactly as it does event by event.

A step is closed when the first event of a later step (or the end of the image) arrives:
that cycle's compare must see every event of the step, and none of the next
(docs/numerics.md, "Per-step compare"). Steps without events cost nothing.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .network import event_layout, index_bits
from .pipeline import CONTROL, Phase

__all__ = ["FrontEnd", "event_reads"]


def event_reads(n_in: int, groups: int, events_per_cycle: int = 1) -> wiring.Signature:
    """One ROM read per cycle: input ``addr``, row group ``group``; ``event``: a read of an
    event (not a bubble); ``close``: step ``time`` is complete, compare it. With
    ``events_per_cycle`` K > 1 also ``more_addr`` and ``more_valid``: the beat's other
    K - 1 slots (``more_valid`` counts only with ``event``)."""
    members = {"addr": Out(index_bits(n_in)), "group": Out(range(groups)),
               "event": Out(1), "close": Out(1), "time": Out(8)}
    if events_per_cycle > 1:
        layout = event_layout(n_in, events_per_cycle)
        members.update(more_addr=Out(layout["more_addr"].shape),
                       more_valid=Out(events_per_cycle - 1))
    return wiring.Signature(members)


class FrontEnd(wiring.Component):
    """The input stream: ``groups`` cycles per event (per beat), step closing, draining after a
    decision.

    No latency of its own: ``i_event`` goes straight to the ROM address, so it should come
    from flip-flops (as ``hdl/image_player.py`` does: a buffered FIFO's output register).

    Parameters
    ----------
    n_in : int
        Inputs (the event address range).
    groups : int
        ROM reads per event (the input layer's row groups).
    events_per_cycle : int
        Events per ``i_event`` beat (K): the beat's K - 1 further slots pass to ``o``.

    Members
    -------
    i_event : In(stream)  time u8, addr, last u1 (+ more_addr, more_valid) -- one image's
        events sorted by (time, addr), in beats of up to K events of one step
    ctl : In(CONTROL)
    o : Out(event_reads)  what the input layer reads and compares this cycle
    start : Out(1)  an idle core sees an image's first event
    quiet : Out(1)  the image's last event is in and its last step closed
    input_over : Out(1)  the image's last event is in or being offered
    """

    def __init__(self, n_in: int, groups: int, events_per_cycle: int = 1):
        self.groups, self.events_per_cycle = groups, events_per_cycle
        super().__init__({"i_event": In(stream.Signature(event_layout(n_in, events_per_cycle))),
                          "ctl": In(CONTROL), "o": Out(event_reads(n_in, groups, events_per_cycle)),
                          "start": Out(1), "quiet": Out(1), "input_over": Out(1)})

    def elaborate(self, platform):
        m = Module()
        ev, p, ctl, o = self.i_event, self.i_event.payload, self.ctl, self.o
        in_done = Signal()                  # the image's last event has been accepted
        open_ = Signal()                    # events of step cur_t not yet compared
        cur_t = Signal(8)
        grp = Signal(range(self.groups))
        ev_ok = ev.valid & ~in_done & ctl.accepting
        close = open_ & (ctl.phase == Phase.RUN) & (in_done | (ev.valid & (p.time != cur_t)))
        m.d.comb += [o.addr.eq(p.addr), o.group.eq(grp), o.event.eq(ev_ok), o.close.eq(close),
                     o.time.eq(cur_t),
                     self.start.eq((ctl.phase == Phase.IDLE) & ev.valid),
                     self.quiet.eq(in_done & ~open_),
                     self.input_over.eq(in_done | (ev.valid & p.last))]
        if self.events_per_cycle > 1:
            m.d.comb += [o.more_addr.eq(p.more_addr), o.more_valid.eq(p.more_valid)]
        with m.If(ctl.advance & ctl.accepting):
            with m.If(close):
                m.d.sync += open_.eq(0)
            with m.If(ev_ok):
                m.d.sync += [cur_t.eq(p.time), open_.eq(1)]
                with m.If(grp == self.groups - 1):
                    m.d.comb += ev.ready.eq(1)
                    m.d.sync += [grp.eq(0), in_done.eq(p.last)]
                with m.Else():
                    m.d.sync += grp.eq(grp + 1)
        with m.If(ctl.phase == Phase.RESULT):
            # Drain the rest of the image (early decision).
            with m.If(~in_done):
                m.d.comb += ev.ready.eq(1)
                with m.If(ev.valid & p.last):
                    m.d.sync += in_done.eq(1)
        with m.If(ctl.clear):
            m.d.sync += [in_done.eq(0), open_.eq(0), grp.eq(0)]
        return m
