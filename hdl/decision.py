"""The decision: first output crossing, ties, the no-spike fallback (docs/numerics.md,
"Decision", "Ties", "No-spike fallback", "Early decisions").

The output layer's compare is registered once more (``latency``), so that the wide enables
here do not hang off the trees' last adders. The first crossing decides; a single first
spiker is the label at once, a tie (highest V at the crossing step, then the lowest index)
or no output spike at all (argmax of V(255), lowest index on equal) goes through a
pipelined argmax, one comparator level per cycle (``argmax_latency``).
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from contract.numerics import LAST_STEP, SILENT

from .network import CoreNetwork, index_bits, result_layout
from .pipeline import CONTROL, Stages, layer_out
from .trees import masked_argmax, one_hot

__all__ = ["Decision", "verdict_layout"]

ARGMAX_LEVELS_PER_STAGE = 1     # one comparator (a carry chain) and a mux per cycle


def verdict_layout(n_out: int) -> data.StructLayout:
    """The result without its cycle count."""
    fields = dict(result_layout(n_out).members)
    del fields["cycles"]
    return data.StructLayout(fields)


class Decision(wiring.Component):
    """Decides an image from its output layer's compares.

    Members
    -------
    ctl : In(CONTROL)
    i : In(layer_out(N_out))  the output layer's compares
    potentials : In(array)  the output layer's V - theta of each evaluation
    full : In(1)  the image runs to the end (every output time kept)
    done : In(1)  the image is finished: the argmax's inputs are final
    decided : Out(1)  an output neuron has crossed
    label_ready : Out(1)  ``verdict`` is final
    verdict : Out(verdict_layout)  label, step, tie, no_spike, times
    busy : Out(1)  a compare in the decision register

    Attributes
    ----------
    latency : int
        The register stage between the output compare and the decision (1).
    argmax_latency : int
        Extra cycles of a tie or no-spike decision.
    """

    latency = 1

    def __init__(self, net: CoreNetwork):
        n_out = net.widths[-1]
        self.n_out = n_out
        self.shape = net.potential_shape(net.n_layers - 1)
        self.theta = net.theta(net.n_layers - 1)
        self.argmax_latency = max(1, -(-index_bits(n_out) // ARGMAX_LEVELS_PER_STAGE))
        super().__init__({
            "ctl": In(CONTROL), "i": In(layer_out(n_out)),
            "potentials": In(data.ArrayLayout(self.shape, n_out)),
            "full": In(1), "done": In(1), "decided": Out(1), "label_ready": Out(1),
            "verdict": Out(verdict_layout(n_out)), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        ctl, i, n = self.ctl, self.i, self.n_out
        st = Stages(m, ctl.advance)
        d_v = st.reg(1, "dec_valid", ctl.go & i.valid)
        d_cross = st.reg(i.cross, "dec_cross", i.cross)
        d_t = st.reg(i.time, "dec_time", i.time, reset=False)
        d_vals = [st.reg(self.shape, f"dec_v{k}", self.potentials[k], reset=False) for k in range(n)]
        out_time = [Signal(9, init=SILENT, name=f"out_time{k}") for k in range(n)]
        decided, dec_step, single = Signal(), Signal(8), Signal()
        # The argmax's inputs, in registers of their own (no multiplexer on `decided` in the
        # comparator path): the potentials of the deciding evaluation once an output has
        # crossed, before that the last evaluation's (V(255) once the image has drained;
        # V = 0 before), with the mask of the deciding step's crossings (all ones before).
        am_in = [Signal(self.shape, init=-self.theta, name=f"am_in{k}") for k in range(n)]
        am_mask = Signal(n, init=(1 << n) - 1)
        st.resets += [*out_time, decided, *am_in, am_mask]
        with m.If(ctl.go & d_v & ~decided):
            m.d.sync += [am_in[k].eq(d_vals[k]) for k in range(n)]
        with m.If(ctl.go & d_v):
            # In early mode only the deciding step's spikes are output times (the core runs
            # on for the cycle it takes to stop; later crossings are not kept).
            for k in range(n):
                with m.If(d_cross[k] & ~(decided & ~self.full)):
                    m.d.sync += out_time[k].eq(d_t + 1)
            with m.If(d_cross.any() & ~decided):
                m.d.sync += [decided.eq(1), dec_step.eq(d_t),
                             single.eq(one_hot(d_cross)), am_mask.eq(d_cross)]
        # The argmax's inputs are final from the first `done` cycle on; it needs `wait`
        # cycles, a single first spiker does not wait for it.
        wait = Signal(range(self.argmax_latency + 1), init=self.argmax_latency)
        st.resets.append(wait)
        slow_label = argmax(m, am_in, list(am_mask))
        fast_label = Signal(index_bits(n), name="winner")
        for k in range(n):
            with m.If(am_mask[k]):        # one bit set when it is read
                m.d.comb += fast_label.eq(k)
        with m.If(self.done & (wait != 0)):
            m.d.sync += wait.eq(wait - 1)
        vd = self.verdict
        m.d.comb += [self.busy.eq(d_v), self.decided.eq(decided),
                     self.label_ready.eq((decided & single) | (wait == 0)),
                     vd.label.eq(Mux(decided & single, fast_label, slow_label)),
                     vd.step.eq(Mux(decided, dec_step, LAST_STEP)), vd.tie.eq(decided & ~single),
                     vd.no_spike.eq(~decided)]
        m.d.comb += [vd.times[k].eq(out_time[k]) for k in range(n)]
        st.clear(ctl.clear)
        return m


def argmax(m: Module, vals, mask) -> Value:
    """(lowest-index) argmax of the masked values, ARGMAX_LEVELS_PER_STAGE comparator levels
    per register."""
    def stage(level, nodes):
        if level and level % ARGMAX_LEVELS_PER_STAGE == 0:
            return [_reg_node(m, nd, f"am{level}_{i}") for i, nd in enumerate(nodes)]
        return nodes
    top = masked_argmax(vals, mask, index_bits(len(vals)), stage)
    return _reg_node(m, top, "am_out")[2]


def _reg_node(m: Module, node, name: str):
    mk, v, i = node
    rm, rv, ri = (Signal(name=f"{name}_m"), Signal(Value.cast(v).shape(), name=f"{name}_v"),
                  Signal(Value.cast(i).shape(), name=f"{name}_i"))
    m.d.sync += [rm.eq(mk), rv.eq(v), ri.eq(i)]
    return rm, rv, ri
