# amaranth: UnusedElaboratable=no
"""Property 3: a started image always produces a result, within a bound from the cycle model.

The harness is a whole ``BS4NNCore`` (hdl/core.py) of a small network. Its event stream and
its result sink are free (``AnySeq``), constrained only by what the core's contract asks:

* stream rules: an offered event stays offered, unchanged, until taken;
* a well-formed image: times never decrease, every address in range and at most once,
  ``last`` on its final event (forced on the event that uses the last unused address), and
  no gap between an image's events (the board's player and the front end's ``i_event``
  run at one event per cycle);
* a fair sink: ``o_result.ready`` is low for at most ``sink_wait`` cycles in a row while a
  result waits;
* ``full`` free in every cycle; no reset.

Asserted: ``o_result.valid`` rises at most ``result_bound`` cycles after the cycle an idle
core takes the image's first event (the cycle model's cycle 0), and the core is back in IDLE
(ready for the next image) at most ``idle_bound`` cycles after it. ``result_bound`` is the cycle model's worst case
(hdl/cycle_model.py): every input an event, a tie or no-spike decision.
"""
from __future__ import annotations

from amaranth import *
from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, Cover

from ..core import BS4NNCore
from ..pipeline import Phase

__all__ = ["LivenessHarness", "result_bound"]


def result_bound(timing: dict, n_in: int) -> int:
    """Worst-case cycles from an image's first event taken to its result (``cycles``).

    hdl/cycle_model.py: the last step is closed at G * n, compared 1 + R later, then the
    deeper layers' delays and the decision stage, + 2 + O, + A for a tie or no-spike
    decision; n <= n_in events (every address at most once).
    """
    G, R = timing["groups"], timing["rom_reg"]
    return (G * n_in + 1 + R + sum(timing["layer_delays"]) + timing["decision_delay"]
            + 2 + timing["output_delay"] + timing["argmax_delay"])


class LivenessHarness(Elaboratable):
    """A BS4NNCore between a free well-formed event source and a fair result sink.

    Parameters
    ----------
    net : CoreNetwork
    sink_wait : int
        Most cycles in a row the sink may hold ``ready`` low while a result waits.
    core_params
        Passed to ``BS4NNCore`` (lanes, rom_reg, tree_levels, ...).
    """

    def __init__(self, net, *, sink_wait: int = 3, **core_params):
        self.core = BS4NNCore(net, **core_params)
        self.n_in = net.widths[0]
        self.sink_wait = sink_wait
        self.result_bound = result_bound(self.core.timing, self.n_in)
        # After the result: the sink's wait, the rest of the image drained (one event a
        # cycle, overlapping the run), RESULT -> CLEAR -> IDLE.
        self.idle_bound = self.result_bound + sink_wait + 3

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        ev, res = core.i_event, core.o_result
        p = ev.payload
        m.d.comb += [Assume(~ResetSignal()), core.full.eq(AnySeq(1)), core.debug.eq(0),
                     ev.valid.eq(AnySeq(1)), p.eq(AnySeq(len(p.as_value()))),
                     res.ready.eq(AnySeq(1))]
        if self.core.debug_port:
            m.d.comb += core.o_spike.ready.eq(1)
        self._source(m, ev)
        self._sink(m, res)
        self._bounds(m, ev, res)
        return m

    def _source(self, m, ev):
        """Stream rules and a well-formed image."""
        n_in, p = self.n_in, ev.payload
        taken = ev.valid & ev.ready
        held, held_word = Signal(), Signal.like(p.as_value())
        m.d.sync += [held.eq(ev.valid & ~ev.ready), held_word.eq(p.as_value())]
        m.d.comb += Assume(~held | (ev.valid & (p.as_value() == held_word)))
        in_image, last_time, seen = Signal(), Signal(8), Signal(n_in)
        addr_bit = Signal(n_in)
        m.d.comb += addr_bit.eq(C(1, n_in) << p.addr)
        m.d.comb += Assume(~ev.valid | ((p.addr < n_in) & ~(seen & addr_bit).any()))
        m.d.comb += Assume(~ev.valid | ((seen | addr_bit) != (1 << n_in) - 1) | p.last)
        m.d.comb += Assume(~in_image | (ev.valid & (p.time >= last_time)))
        with m.If(taken):
            m.d.sync += [in_image.eq(~p.last), last_time.eq(p.time),
                         seen.eq(Mux(p.last, 0, seen | addr_bit))]

    def _sink(self, m, res):
        """At most ``sink_wait`` cycles of ``ready`` low in a row while a result waits."""
        refused = Signal(range(self.sink_wait + 1))
        with m.If(res.valid & ~res.ready):
            m.d.sync += refused.eq(refused + 1)
        with m.Else():
            m.d.sync += refused.eq(0)
        m.d.comb += Assume(~res.valid | res.ready | (refused < self.sink_wait))

    def _bounds(self, m, ev, res):
        """Cycles since the image's first event was taken, until its result / IDLE."""
        limit = self.idle_bound + 1
        age = Signal(range(limit + 1))       # 0: no image started
        got_result = Signal()
        ctl = self.core.controller.ctl
        phase = ctl.phase
        first = ev.valid & ctl.advance & (phase == Phase.IDLE)     # the cycle model's cycle 0
        with m.If(first):
            m.d.sync += [age.eq(1), got_result.eq(0)]
        with m.Elif(age != 0):
            m.d.sync += age.eq(Mux(age == limit, limit, age + 1))
            with m.If(res.valid):
                m.d.sync += got_result.eq(1)
            with m.If(got_result & (phase == Phase.IDLE)):
                m.d.sync += age.eq(0)
        # age k: k cycles after cycle 0; o_result.valid is up by age result_bound.
        m.d.comb += [Assert(got_result | res.valid | (age < self.result_bound)),
                     Assert(age <= self.idle_bound)]
        # Not vacuous, and the result bound is tight (cover mode).
        m.d.comb += [Cover(res.valid & ~got_result & (age == self.result_bound)),
                     Cover((age != 0) & got_result & (phase == Phase.IDLE))]
