"""The controller: an image's phases, the pipeline's advance, the cycle count and the result.

IDLE -> RUN on an image's first event; RUN -> RESULT once the image is decided (early mode)
or the pipeline has drained; RESULT -> CLEAR once the result is taken and the image's events
are all in; CLEAR (one cycle, also after reset) -> IDLE. Everything that ends an image reads
registers only: the decision and the end of the image are known one cycle after the output
compare / the last activity, anywhere on the die.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .decision import verdict_layout
from .network import result_layout
from .pipeline import CONTROL, Phase

__all__ = ["Controller"]


class Controller(wiring.Component):
    """Phase sequencing and the result register.

    Parameters
    ----------
    n_out : int
        Output neurons.
    debug_port : bool
        Whether a spike reporter exists (``debug`` is ignored without one).

    Members
    -------
    ctl : Out(CONTROL)
    full, debug : In(1)  the core's inputs, sampled on an image's first event
    start : In(1)  an idle core sees a first event
    input_over : In(1)  the image's last event is in or being offered
    empty : In(1)  nothing in flight and the last step closed
    decided, label_ready : In(1)
    verdict : In(verdict_layout)
    pending : In(1)  spike reports to send (the pipeline stalls)
    run_full : Out(1)  ``full`` of the current image
    done : Out(1)  the image is finished (decided in early mode, or drained)
    capture : Out(1)  the spike reporter takes this cycle's crossings
    o_result : Out(stream)  label, step, tie, no_spike, cycles u32, times

    Attributes
    ----------
    latency : int
        ``o_result`` is a register (1).
    """

    latency = 1

    def __init__(self, n_out: int, *, debug_port: bool):
        self.debug_port = debug_port
        super().__init__({
            "ctl": Out(CONTROL), "full": In(1), "debug": In(1), "start": In(1),
            "input_over": In(1), "empty": In(1), "decided": In(1), "label_ready": In(1),
            "verdict": In(verdict_layout(n_out)), "pending": In(1), "run_full": Out(1),
            "done": Out(1), "capture": Out(1),
            "o_result": Out(stream.Signature(result_layout(n_out)))})

    def elaborate(self, platform):
        m = Module()
        ctl, vd, r = self.ctl, self.verdict, self.o_result.payload
        phase = Signal(Phase, init=Phase.CLEAR)     # CLEAR first: loads the counters after reset
        # `phase == CLEAR` as a flip-flop of its own: the clear reaches every part of the core
        # (the first layer's counters among them) from a register, not through a decoder.
        clear = Signal(init=1)
        run, result = phase == Phase.RUN, phase == Phase.RESULT
        debug_r, cycles, res_sent, out_full, drained = (Signal(), Signal(32), Signal(), Signal(),
                                                        Signal())
        # `drained` lags the pipeline by one cycle so the OR over it stays off the stop path.
        finished = (self.decided & ~self.run_full) | drained
        m.d.comb += [ctl.phase.eq(phase), ctl.advance.eq(~self.pending),
                     ctl.go.eq(ctl.advance & run), ctl.clear.eq(clear),
                     ctl.accepting.eq((phase == Phase.IDLE) | run),
                     self.done.eq(result | (run & finished)),
                     # Not in the cycle the image finishes: the result may be taken in that
                     # cycle and must follow the image's last reported spike.
                     self.capture.eq(ctl.go & debug_r & ~finished)]
        with m.If(ctl.advance & ctl.accepting):
            with m.If(self.start):
                m.d.sync += [phase.eq(Phase.RUN), self.run_full.eq(self.full), cycles.eq(1),
                             debug_r.eq(self.debug if self.debug_port else 0)]
        with m.If(ctl.advance):
            m.d.sync += drained.eq(self.empty)
        with m.If(run & finished):
            m.d.sync += phase.eq(Phase.RESULT)
        # The result goes out through a register (whatever takes it sees no path back).
        with m.If(self.done & self.label_ready & ~self.pending & ~out_full & ~res_sent):
            m.d.sync += [out_full.eq(1), r.label.eq(vd.label), r.step.eq(vd.step),
                         r.tie.eq(vd.tie), r.no_spike.eq(vd.no_spike), r.times.eq(vd.times),
                         r.cycles.eq(cycles + 1)]           # the cycle it appears in
        m.d.comb += self.o_result.valid.eq(out_full)
        taken = out_full & self.o_result.ready
        with m.If((run | result) & ~out_full & ~res_sent):
            m.d.sync += cycles.eq(cycles + 1)
        with m.If(taken):
            m.d.sync += [out_full.eq(0), res_sent.eq(1)]
        with m.If(result):
            with m.If((res_sent | taken) & self.input_over):
                m.d.sync += [phase.eq(Phase.CLEAR), clear.eq(1)]
        with m.If(ctl.clear):
            m.d.sync += [drained.eq(0), res_sent.eq(0), cycles.eq(0), phase.eq(Phase.IDLE),
                         clear.eq(0)]
        return m
