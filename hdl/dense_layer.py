"""A dense deeper layer: every potential recomputed from the fired vector of the layer below.

A deeper layer does not integrate spikes one by one: at each compare of the layer below it
recomputes all its potentials from that layer's fired vector F (docs/numerics.md, "Neuron",
"Layer delay"), ``V_k = pc(F) - 2 * pc(F & N_k)`` (N_k: inputs with weight -1; the smaller
of the two weight sets is used), with the weights as constants in carry-save trees
(``hdl/heap.py``) registered every ``tree_levels`` compressor levels. The layer compares
step t ``latency`` cycles after the layer below compared step t - 1.

With ``net.runtime`` the weights are registers written by the weight loader
(``hdl/weight_loader.py``): every neuron's tree takes all N_l inputs, ``F & N_k`` with N_k
the runtime mask, and the threshold is a register subtracted in the same tree; the trees are
deeper, so ``latency`` may grow (the timing reports it).
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from contract.numerics import LAST_STEP

from .heap import Heap, HeapBuilder
from .network import CoreNetwork
from .pipeline import CONTROL, Stages, layer_out
from .weight_loader import load_write

__all__ = ["DenseLayer", "layer_potentials"]

TREE_INPUT_LEVELS = 1       # the tree starts from fired | cross (one LUT level)


def layer_potentials(builder: HeapBuilder, net: CoreNetwork, l: int, fired,
                     rows=None, theta=None) -> list[Signal]:
    """Registered V_k - theta of every neuron k of deeper layer l from the fired vector below.

    ``V_k = pc(F) - 2 * pc(F & N_k)`` or, when fewer weights are +1, ``2 * pc(F & P_k) -
    pc(F)``: one shared popcount and one tree over the smaller weight set per neuron.
    ``rows``/``theta`` (runtime weights): the weight rows (bit k of ``rows[i]``: input i to
    neuron k is +1) and the threshold as signals; then N_k = ~rows[.][k] over all inputs.
    """
    n_in, n_out = net.widths[l], net.widths[l + 1]
    leaf_w = max(1, n_in.bit_length())
    every = Heap(leaf_w)
    for i in range(n_in):
        every.add_bit(fired[i])
    subsets = []
    for k in range(n_out):
        h = Heap(leaf_w)
        if rows is not None:
            use_minus = True
            for i in range(n_in):
                h.add_bit(fired[i] & ~rows[i][k])
        else:
            minus = net.minus_inputs(l, k)
            use_minus = len(minus) <= n_in - len(minus)
            for i in (minus if use_minus else sorted(set(range(n_in)) - set(minus))):
                h.add_bit(fired[i])
        subsets.append((use_minus, h))
    builder.compress([every] + [h for _, h in subsets])
    shape = net.potential_shape(l)
    sums = []
    for use_minus, h in subsets:
        v = Heap(shape.width)
        v.add_rows(builder.rows(every), negate=not use_minus)
        v.add_rows(builder.rows(h), scale=1, negate=use_minus)
        if theta is None:
            v.add_const(-net.theta(l))
        else:
            v.add_rows([[theta[b] for b in range(len(theta))]], negate=True)
        sums.append(v)
    return builder.finish(sums, [f"v{l}_{k}" for k in range(n_out)])


class DenseLayer(wiring.Component):
    """Deeper weight layer ``l`` (fully connected).

    Parameters
    ----------
    net : CoreNetwork
    l : int
        The weight layer (1 .. L - 1).
    tree_levels : int or None
        Compressor levels between pipeline registers (None: the whole tree in one cycle).
    tree_counter : int
        3 (full adders) or 6 (6:3 counters); see ``hdl/heap.py``.

    Members
    -------
    ctl : In(CONTROL)
    i : In(layer_out(N_l))  the compares of the layer below
    o : Out(layer_out(N_l+1))  this layer's compares
    potentials : Out(array of N_l+1 signed)  V_k - theta of the last evaluation
    busy : Out(latency)  evaluations in flight
    load : In(load_write)  (``net.runtime`` only) the weight loader's writes

    Attributes
    ----------
    latency : int
        Cycles from the layer below's compare of step t - 1 to this layer's compare of
        step t: the trees' pipeline registers, the final potential register included.
    """

    def __init__(self, net: CoreNetwork, l: int, *, tree_levels: int | None, tree_counter: int):
        self.net, self.l = net, l
        self.tree_levels, self.tree_counter = tree_levels, tree_counter
        self.runtime = net.runtime
        probe = self._builder(None, C(1, 1), "probe")
        layer_potentials(probe, net, l, Signal(net.widths[l]), *self._weights())
        self.latency = probe.stages
        ports = {"ctl": In(CONTROL), "i": In(layer_out(net.widths[l])),
                 "o": Out(layer_out(net.widths[l + 1])),
                 "potentials": Out(data.ArrayLayout(net.potential_shape(l), net.widths[l + 1])),
                 "busy": Out(self.latency)}
        if self.runtime:
            ports["load"] = In(load_write(net.widths))
        super().__init__(ports)

    def _weights(self):
        """(rows, theta) registers of a runtime layer, else (None, None)."""
        if not self.runtime:
            return None, None
        n_in, n_out = self.net.widths[self.l], self.net.widths[self.l + 1]
        return ([Signal(n_out, name=f"w{self.l}_row{i}") for i in range(n_in)],
                Signal(range(n_in + 2), name=f"theta{self.l}"))

    def _builder(self, m, en, name: str) -> HeapBuilder:
        return HeapBuilder(m, en=en, levels_per_stage=self.tree_levels, name=name,
                           counter_inputs=self.tree_counter, input_levels=TREE_INPUT_LEVELS)

    def elaborate(self, platform):
        m = Module()
        ctl, i, o, l = self.ctl, self.i, self.o, self.l
        st = Stages(m, ctl.advance)
        builder = self._builder(m, ctl.advance, f"t{l}")
        rows, theta = self._weights()
        if self.runtime:
            ld = self.load
            for a, row in enumerate(rows):
                with m.If(ld.write & (ld.layer == l) & (ld.addr == a)):
                    m.d.sync += row.eq(ld.row[:len(row)])
            with m.If(ld.theta_write & (ld.layer == l)):
                m.d.sync += theta.eq(ld.theta)
        vals = layer_potentials(builder, self.net, l, i.fired, rows, theta)
        # The token of the layer below's compare of step t: inputs of time t + 1, integrated
        # (valid) and, unless t + 1 is step 255, compared (live).
        v = ctl.go & i.live
        live = ctl.go & i.live & (i.time != LAST_STEP - 1)
        t = i.time + 1
        busy = []
        for s in range(builder.stages):
            v = st.reg(1, f"tok_s{s}_valid", v)
            live = st.reg(1, f"tok_s{s}_live", live)
            t = st.reg(i.time, f"tok_s{s}_time", t, reset=False)
            busy.append(v)
        fired = Signal(len(o.cross), name="fired")
        st.resets.append(fired)
        m.d.comb += [o.cross.eq(Cat(*[~x[-1] for x in vals]) & ~fired & live.replicate(len(vals))),
                     o.fired.eq(fired | o.cross), o.valid.eq(v), o.live.eq(live), o.time.eq(t),
                     self.busy.eq(Cat(*busy))]
        m.d.comb += [self.potentials[k].eq(x) for k, x in enumerate(vals)]
        with m.If(ctl.go):
            m.d.sync += fired.eq(fired | o.cross)
        st.clear(ctl.clear)
        return m
