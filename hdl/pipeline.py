"""What every part of the core shares: the control phase, the control signals, pipeline registers.

The controller (``hdl/control.py``) drives one ``CONTROL`` interface that every other part
reads: the image's phase, whether the pipeline advances this cycle (it stalls while the
spike reporter has spikes to send), and the clear cycle between images. Layers hand their
compares on through ``LAYER_OUT``.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import Out

__all__ = ["Phase", "CONTROL", "layer_out", "Stages", "reset_less_domain"]


class Phase(enum.Enum, shape=2):
    """Where the core is with the current image."""
    IDLE = 0        # waiting for an image's first event
    RUN = 1         # integrating, comparing, deciding
    RESULT = 2      # finished: the result goes out, the rest of the image is drained
    CLEAR = 3       # one cycle: every register back to its power-on value (also after reset)


CONTROL = wiring.Signature({
    "phase": Out(Phase),
    "advance": Out(1),      # the pipeline moves on this cycle (no spike report pending)
    "go": Out(1),           # advance while running: an image's state may change
    "accepting": Out(1),    # IDLE or RUN: events are integrated
    "clear": Out(1),        # the CLEAR cycle
})


def layer_out(width: int) -> wiring.Signature:
    """A layer's compare, as the next layer, the decision and the spike reporter see it.

    cross: neurons crossing their threshold in this cycle's compare; fired: the fired vector
    including them (the next layer's inputs of time ``time + 1``); live: a compare of step
    ``time`` happens (never for step 255); valid: this cycle's inputs were integrated (also
    those of time 255, which are never compared).
    """
    return wiring.Signature({"cross": Out(width), "fired": Out(width), "valid": Out(1),
                             "live": Out(1), "time": Out(8)})


class Stages:
    """Pipeline registers of one component: enabled by ``advance``, reset by ``clear()``."""

    def __init__(self, m: Module, advance):
        self.m, self.advance = m, advance
        self.resets: list[Signal] = []

    def reg(self, like, name: str, value, *, reset: bool = True) -> Signal:
        """``value`` delayed one advancing cycle (a register shaped like ``like``).

        ``reset=False``: a data register, meaningful only under a flag that is reset; it is
        cleared neither by ``clear()`` nor by the domain's reset (``reset_less``), so the
        reset net reaches only control flip-flops and data flip-flops pack freely (an ECP5
        slice's flip-flops share one set/reset signal)."""
        kw = {} if reset else {"reset_less": True}
        r = (Signal.like(like, name=name, **kw) if isinstance(like, Value)
             else Signal(like, name=name, **kw))
        with self.m.If(self.advance):
            self.m.d.sync += r.eq(value)
        if reset:
            self.resets.append(r)
        return r

    def clear(self, when) -> None:
        """Back to the power-on values when ``when`` (call last: it overrides)."""
        with self.m.If(when):
            self.m.d.sync += [r.eq(r.init) for r in self.resets]


def reset_less_domain(m: Module, name: str = "quiet"):
    """A local domain on ``sync``'s clock without its reset; returns the renamer that puts
    a part in it. For the parts whose every register the CLEAR cycle restores (the
    controller, which stays in ``sync``, enters CLEAR on reset)."""
    m.domains += ClockDomain(name, reset_less=True, local=True)
    m.d.comb += ClockSignal(name).eq(ClockSignal("sync"))
    return DomainRenamer(name)
