# amaranth: UnusedElaboratable=no
"""A hardware ensemble: M binary networks on one image, side by side, and their majority vote.

Numerics: docs/numerics.md, "Calibration and ensembles" (the vote: most members, the lowest
class on a tied vote); architecture: docs/core.md, "Ensembles".

Each member is a complete core (``make_core``: dense or conv) with its own weight ROMs. An
image's events are written once into one FIFO per member, deep enough for a whole image, so
the stream is never held back during an image and each member takes the events at its own
pace, exactly as it would alone: its cycle count is its own cycle model's
(``hdl/cycle_model.py``). A collector keeps each member's result as it comes; when all are
in, the vote goes out with every member's result through a register. In debug mode the
members' spikes are merged on ``o_spike`` with the member's number.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .network import index_bits, payload_layout

__all__ = ["EnsembleCore", "ensemble_cycles", "vote_counts", "FIFO_LATENCY"]

FIFO_LATENCY = 2     # SyncFIFOBuffered: an entry written at an edge is readable two edges on
COLLECT_LATENCY = 2  # a member's result -> its slot (1) -> the vote register (1)


def ensemble_cycles(member_cycles, timing: dict) -> int:
    """The ensemble's cycle count of an image from its members' (each its own cycle model's):
    the slowest member, plus the FIFO and the collector (``EnsembleCore.timing``)."""
    return max(int(c) for c in member_cycles) + int(timing["ensemble_delay"])


def vote_counts(labels: list, n_out: int) -> tuple[Value, Value]:
    """(class, votes): the class most ``labels`` name, the lowest on a tie, and its count."""
    width = max(1, len(labels).bit_length())
    counts = [sum((lab == c).as_unsigned() for lab in labels).as_unsigned()[:width]
              for c in range(n_out)]
    best, best_n = C(0, index_bits(n_out)), counts[0]
    for c in range(1, n_out):           # strictly more votes replaces: ties keep the lower
        more = counts[c] > best_n
        best, best_n = Mux(more, c, best), Mux(more, counts[c], best_n)
    return best, best_n


class EnsembleCore(wiring.Component):
    """M member cores, one event stream, one result with every member's and the vote.

    Parameters
    ----------
    members : list of artifacts
        The networks (``contract.artifacts.Artifacts``), all of one shape.
    **core_params
        ``make_core`` keywords for every member (lanes, debug_port, ...).

    Members
    -------
    i_event : In(stream)  as the member cores' (one image at a time)
    o_result : Out(stream)  label (the vote), votes (its count), cycles u32, members[M] (each
        member's result: label, step, tie, no_spike, cycles, times)
    o_spike : Out(stream)  member, layer, neuron, time -- every member's spikes (debug)
    full, debug : In(1)  to every member

    Raises
    ------
    ValueError
        No members, or members of different shapes.
    """

    def __init__(self, members, **core_params):
        from .conv_core import make_core
        members = list(members)
        if not members:
            raise ValueError("an ensemble needs at least one member")
        shapes = {tuple(int(w) for w in a.widths) for a in members}
        if len(shapes) != 1:
            raise ValueError(f"ensemble members have different shapes: {sorted(shapes)}")
        self.members = [make_core(a, **core_params) for a in members]
        first = self.members[0]
        self.net, self.n_out = first.net, int(members[0].widths[-1])
        self.runtime_weights = False
        self.depth = int(members[0].widths[0])      # an input fires once: a whole image fits
        res, spk = payload_layout(first, "o_result"), payload_layout(first, "o_spike")
        m = len(self.members)
        self.result_layout = data.StructLayout({
            "label": unsigned(index_bits(self.n_out)), "votes": unsigned(m.bit_length()),
            "cycles": unsigned(32), "members": data.ArrayLayout(res, m)})
        self.spike_layout = data.StructLayout({"member": unsigned(index_bits(m)),
                                               **{name: f.shape for name, f in spk}})
        super().__init__({
            "i_event": In(stream.Signature(payload_layout(first, "i_event"))),
            "o_result": Out(stream.Signature(self.result_layout)),
            "o_spike": Out(stream.Signature(self.spike_layout)),
            "full": In(1), "debug": In(1)})

    @property
    def timing(self) -> dict:
        """Each member's timing (``hdl/cycle_model.py``) and the cycles the ensemble adds."""
        return {"kind": "ensemble", "members": [c.timing for c in self.members],
                "ensemble_delay": FIFO_LATENCY + COLLECT_LATENCY}

    def elaborate(self, platform):
        m = Module()
        ev, res = self.i_event, self.o_result
        cores, n = self.members, len(self.members)
        fifos = []
        for k, core in enumerate(cores):
            m.submodules[f"member{k}"] = core
            m.submodules[f"fifo{k}"] = f = SyncFIFOBuffered(width=len(ev.payload.as_value()),
                                                            depth=self.depth)
            fifos.append(f)
            m.d.comb += [core.full.eq(self.full), core.debug.eq(self.debug),
                         core.i_event.payload.eq(f.r_data), core.i_event.valid.eq(f.r_rdy),
                         f.r_en.eq(core.i_event.ready)]
        # The image in: every FIFO takes every event; one image at a time.
        in_done, counting, sent = Signal(), Signal(), Signal()
        cycles = Signal(32)
        m.d.comb += ev.ready.eq(Cat(f.w_rdy for f in fifos).all() & ~in_done)
        take = ev.valid & ev.ready
        m.d.comb += [f.w_data.eq(ev.payload.as_value()) for f in fifos]
        m.d.comb += [f.w_en.eq(take) for f in fifos]
        with m.If(take):
            with m.If(ev.payload.last):
                m.d.sync += in_done.eq(1)
            with m.If(~counting):
                m.d.sync += [counting.eq(1), cycles.eq(1)]
        # The collector: each member's result into its slot, once per image.
        have = Signal(n)
        slots = [Signal(payload_layout(c, "o_result"), name=f"slot{k}")
                 for k, c in enumerate(cores)]
        for k, core in enumerate(cores):
            m.d.comb += core.o_result.ready.eq(~have[k])
            with m.If(core.o_result.valid & ~have[k]):
                m.d.sync += [slots[k].eq(core.o_result.payload), have[k].eq(1)]
        label, votes = vote_counts([s.label for s in slots], self.n_out)
        out_full = Signal()
        with m.If(counting & ~out_full & ~sent):
            m.d.sync += cycles.eq(cycles + 1)
        with m.If(have.all() & ~out_full & ~sent):
            m.d.sync += [out_full.eq(1), res.payload.label.eq(label),
                         res.payload.votes.eq(votes)]
        m.d.comb += [res.valid.eq(out_full), res.payload.cycles.eq(cycles)]
        m.d.comb += [res.payload.members[k].eq(s) for k, s in enumerate(slots)]
        with m.If(res.valid & res.ready):
            m.d.sync += [out_full.eq(0), sent.eq(1)]
        with m.If(sent & in_done):          # the image is over: ready for the next
            m.d.sync += [sent.eq(0), in_done.eq(0), counting.eq(0), have.eq(0)]
        self._merge_spikes(m)
        return m

    def _merge_spikes(self, m: Module) -> None:
        """The members' o_spike streams onto one, the lowest member first; a spike offered
        and not taken keeps its place until it is."""
        cores, o = self.members, self.o_spike
        n = len(cores)
        valid = Cat(c.o_spike.valid for c in cores)
        pick = Signal(range(n), name="spike_pick")
        for k in reversed(range(n)):
            with m.If(valid[k]):
                m.d.comb += pick.eq(k)
        held, held_k = Signal(), Signal(range(n))
        sel = Mux(held, held_k, pick)
        m.d.comb += [o.valid.eq(valid.bit_select(sel, 1)), o.payload.member.eq(sel)]
        for name, _ in payload_layout(cores[0], "o_spike"):
            field = Array(getattr(c.o_spike.payload, name) for c in cores)
            m.d.comb += getattr(o.payload, name).eq(field[sel])
        m.d.comb += [c.o_spike.ready.eq(o.ready & (sel == k)) for k, c in enumerate(cores)]
        m.d.sync += [held.eq(o.valid & ~o.ready), held_k.eq(sel)]
