"""The BS4NN inference core: an event-driven pipeline of binary integrate-and-fire layers.

Numerics are SPEC sections 2-4 exactly; ports and timing are docs/core.md. Architecture:

* Layer 0 is event driven. Each input event (time, addr) reads its fan-out row from a
  block-RAM ROM (``lib.memory.Memory``, one word per input) and every counter of
  ``hdl/accumulators.py`` steps by +-1 in the direction of its weight bit (``lanes`` < N1:
  the row comes in ``G = ceil(N1 / lanes)`` words, one group of neurons per cycle).
* A step is closed when the first event of a later step (or the end of the image) reaches
  the counters: every neuron is compared in that cycle, before that event is added, so the
  compare always sees all of the step's events (SPEC 3). Steps without events cost nothing.
* Each layer keeps a *fired* vector. A deeper layer does not integrate spikes one by one:
  after every compare of the layer below it recomputes all its potentials from that vector,
  ``V_k = pc(F) - 2 * pc(F & N_k)`` (N_k: inputs with weight -1; the smaller of the two
  sets is used), with the weights as constants in full-adder trees (``hdl/heap.py``) that
  are pipelined every ``tree_levels`` adder levels. The layers form a pipeline in time
  order: layer l compares step t a fixed number of cycles after layer l - 1 compared t - 1.
* Decision at the first output crossing (early mode), or when the pipeline has drained
  (``full``, or no output spike). Ties: highest V at the crossing step, then the lowest
  index; no spike: argmax V(255), lowest index on equal. A single winner's label is ready
  at once; ties and the no-spike case go through a pipelined argmax (one comparator per
  cycle).

``BS4NNCore.timing`` gives the pipeline's delays; ``hdl/cycle_model.py`` turns them and a
spike trace into the exact cycle count of an image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from amaranth import *
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .accumulators import Accumulators
from .heap import Heap, HeapBuilder
from .trees import any_of, lowest_set, masked_argmax, one_hot

__all__ = ["BS4NNCore", "CoreNetwork", "event_layout", "result_layout", "spike_layout"]

T = 256
SILENT = 256
ARGMAX_LEVELS_PER_STAGE = 1     # one comparator (a carry chain) and a mux per cycle
INPUT_DELAY = 0             # events go straight to the ROM address (no input register)
DECISION_DELAY = 1          # the register stage between the output compare and the decision
OUTPUT_DELAY = 1            # o_result is a register
TREE_INPUT_LEVELS = 1       # a deeper layer's tree starts from fired | cross (one LUT)


@dataclass(frozen=True)
class CoreNetwork:
    """What the core is built from: layer widths, thresholds and ROM words per weight layer.

    ``words[l][i]`` is the fan-out row of input i of weight layer l (bit j = weight to
    neuron j is +1), exactly the artifact ROM format (docs/artifacts.md).
    """
    widths: tuple[int, ...]
    thetas: tuple[int, ...]
    words: tuple[tuple[int, ...], ...]

    @classmethod
    def from_artifacts(cls, art) -> "CoreNetwork":
        """From anything with ``widths``, ``thetas`` and ``rom_words(l)`` (export.artifacts)."""
        widths = [int(w) for w in art.widths]
        return cls.build(widths, [int(t) for t in art.thetas],
                         [art.rom_words(l) for l in range(len(widths) - 1)])

    @classmethod
    def from_weights(cls, weights, thetas) -> "CoreNetwork":
        """From (fan_out, fan_in) +-1 matrices (for tests and benchmarks)."""
        words, widths = [], []
        for l, w in enumerate(weights):
            w = np.asarray(w)
            if w.ndim != 2 or not np.isin(w, (-1, 1)).all():
                raise ValueError(f"weights[{l}]: expected a 2-D matrix of +-1, got shape {w.shape}")
            if not widths:
                widths.append(w.shape[1])
            widths.append(w.shape[0])
            bits = (w.T > 0).astype(np.uint8)
            packed = np.packbits(bits, axis=1, bitorder="little")
            words.append([int.from_bytes(r.tobytes(), "little") for r in packed])
        return cls.build(widths, [int(t) for t in thetas], words)

    @classmethod
    def build(cls, widths, thetas, words) -> "CoreNetwork":
        if len(widths) < 3:
            raise ValueError(f"widths {widths}: the core needs at least 2 weight layers")
        if len(thetas) != len(widths) - 1 or len(words) != len(widths) - 1:
            raise ValueError(f"{len(widths) - 1} weight layers but {len(thetas)} thresholds "
                             f"and {len(words)} ROMs")
        for l, th in enumerate(thetas):
            if th < 1:
                raise ValueError(f"layer {l} threshold {th}: must be >= 1 (a neuron must not "
                                 f"fire without input)")
        for l, ws in enumerate(words):
            if len(ws) != widths[l]:
                raise ValueError(f"layer {l} ROM: {len(ws)} words, fan-in is {widths[l]}")
            for i, x in enumerate(ws):
                if not 0 <= x < (1 << widths[l + 1]):
                    raise ValueError(f"layer {l} ROM word {i} does not fit {widths[l + 1]} bits")
        return cls(tuple(widths), tuple(thetas), tuple(tuple(w) for w in words))

    @property
    def n_layers(self) -> int:
        return len(self.widths) - 1

    def potential_shape(self, l: int) -> Shape:
        """Signed shape of V - theta for every reachable V (|V| <= fan-in) of layer l."""
        f = self.widths[l]
        th = min(self.thetas[l], f + 1)
        return Shape.cast(range(-f - th, f - th + 1))

    def minus_inputs(self, l: int, k: int) -> list[int]:
        """Inputs i of layer l whose weight to neuron k is -1."""
        return [i for i, x in enumerate(self.words[l]) if not (x >> k) & 1]


def _bits(n: int) -> int:
    """Bits of an unsigned index in 0..n-1 (at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def event_layout(n_in: int) -> data.StructLayout:
    return data.StructLayout({"time": unsigned(8), "addr": unsigned(_bits(n_in)), "last": unsigned(1)})


def result_layout(n_out: int) -> data.StructLayout:
    return data.StructLayout({
        "label": unsigned(_bits(n_out)), "step": unsigned(8), "tie": unsigned(1),
        "no_spike": unsigned(1), "cycles": unsigned(32),
        "times": data.ArrayLayout(unsigned(9), n_out)})


def spike_layout(n_layers: int, max_width: int) -> data.StructLayout:
    return data.StructLayout({"layer": unsigned(_bits(n_layers)),
                              "neuron": unsigned(_bits(max_width)), "time": unsigned(9)})


def layer_potentials(m, builder: HeapBuilder, net: CoreNetwork, l: int, fired) -> list[Signal]:
    """Registered V_k - theta of every neuron k of deeper layer l from the fired vector below.

    ``V_k = pc(F) - 2 * pc(F & N_k)`` or, when fewer weights are +1, ``2 * pc(F & P_k) -
    pc(F)``: one shared popcount and one tree over the smaller weight set per neuron.
    """
    n_in, n_out = net.widths[l], net.widths[l + 1]
    leaf_w = max(1, n_in.bit_length())
    every = Heap(leaf_w)
    for i in range(n_in):
        every.add_bit(fired[i])
    subsets = []
    for k in range(n_out):
        minus = net.minus_inputs(l, k)
        use_minus = len(minus) <= n_in - len(minus)
        members = minus if use_minus else sorted(set(range(n_in)) - set(minus))
        h = Heap(leaf_w)
        for i in members:
            h.add_bit(fired[i])
        subsets.append((use_minus, h))
    builder.compress([every] + [h for _, h in subsets])
    shape = net.potential_shape(l)
    sums = []
    for use_minus, h in subsets:
        v = Heap(shape.width)
        v.add_rows(builder.rows(every), negate=not use_minus)
        v.add_rows(builder.rows(h), scale=1, negate=use_minus)
        v.add_const(-min(net.thetas[l], n_in + 1))
        sums.append(v)
    return builder.finish(sums, [f"v{l}_{k}" for k in range(n_out)])


def tree_stages(net: CoreNetwork, l: int, levels_per_stage: int | None, counter_inputs: int) -> int:
    """Pipeline registers of deeper layer l's trees (the final potential register included)."""
    b = HeapBuilder(None, en=C(1, 1), levels_per_stage=levels_per_stage, name="probe",
                    counter_inputs=counter_inputs, input_levels=TREE_INPUT_LEVELS)
    layer_potentials(None, b, net, l, Signal(net.widths[l]))
    return b.stages


class BS4NNCore(wiring.Component):
    """Event-driven BS4NN inference core.

    Parameters
    ----------
    net : CoreNetwork or artifacts
        The network (an ``export.artifacts.Artifacts`` is converted with
        ``CoreNetwork.from_artifacts``).
    lanes : int or None
        First-layer neurons updated per cycle (1 .. N1; None = N1, full parallelism). An
        event then takes ``ceil(N1 / lanes)`` cycles and the ROM is that many times deeper
        and narrower.
    debug_port : bool
        Build the ``o_spike`` logic (a priority encoder per layer). When False, ``o_spike``
        stays in the signature but never becomes valid, and ``debug`` is ignored.
    rom_reg : bool
        A register stage between the weight ROM and the first-layer counters (one cycle of
        latency, a shorter clock path).
    tree_levels : int or None
        Compressor levels between pipeline registers in the deeper layers' trees (None: the
        whole tree in one cycle). Fewer levels: a faster clock, a few more cycles per image.
    tree_counter : int
        The trees' compressors: 3 (full adders; suits 4-input LUTs, e.g. ECP5, iCE40) or 6
        (6:3 counters, one LUT6 per output bit; fewer LUTs on Xilinx 7-series).
    dsp_neurons : int
        First-layer counters placed in Xilinx DSP48E1 SIMD lanes (a multiple of 4; needs
        full parallelism; the Verilog then instantiates ``DSP48E1``). 0 = portable logic.

    Members
    -------
    i_event : In(stream)  time u8, addr, last u1 -- one image's events sorted by (time, addr)
    o_result : Out(stream)  label, step u8, tie, no_spike, cycles u32, times N_out x u9
    o_spike : Out(stream)  layer, neuron, time u9 -- every spike, while ``debug`` is 1
    full : In(1)  1: run the whole image (every spike time); 0: stop at the decision
    debug : In(1)  1: report every spike on ``o_spike`` (the core stalls while it does)

    ``full`` and ``debug`` are sampled when an image's first event arrives.

    Raises
    ------
    ValueError
        Bad ``lanes``, ``tree_levels``, ``tree_counter`` or ``dsp_neurons``, or a network the
        core cannot run
        (see ``CoreNetwork.build``).
    """

    def __init__(self, net, *, lanes: int | None = None, debug_port: bool = True,
                 rom_reg: bool = True, tree_levels: int | None = 4, tree_counter: int = 3,
                 dsp_neurons: int = 0):
        if not isinstance(net, CoreNetwork):
            net = CoreNetwork.from_artifacts(net)
        n1 = net.widths[1]
        if lanes is None:
            lanes = n1
        if not isinstance(lanes, int) or isinstance(lanes, bool) or not 1 <= lanes <= n1:
            raise ValueError(f"lanes must be an integer in 1..{n1} (first hidden width), "
                             f"got {lanes!r}")
        if tree_levels is not None and (not isinstance(tree_levels, int) or
                                        isinstance(tree_levels, bool) or tree_levels < 1):
            raise ValueError(f"tree_levels must be None or an integer >= 1, got {tree_levels!r}")
        if tree_counter not in (3, 6) or isinstance(tree_counter, bool):
            raise ValueError(f"tree_counter must be 3 or 6, got {tree_counter!r}")
        self.net = net
        self.lanes = lanes
        self.groups = -(-n1 // lanes)
        self.debug_port = bool(debug_port)
        self.rom_reg = bool(rom_reg)
        self.tree_levels = tree_levels
        self.tree_counter = tree_counter
        self.dsp_neurons = dsp_neurons
        Accumulators.check(n=n1, fan_in=net.widths[0], theta=net.thetas[0], lanes=lanes,
                           dsp_neurons=dsp_neurons)
        self.layer_stages = [tree_stages(net, l, tree_levels, tree_counter)
                             for l in range(1, net.n_layers)]
        w = net.widths
        super().__init__({
            "i_event": In(stream.Signature(event_layout(w[0]))),
            "o_result": Out(stream.Signature(result_layout(w[-1]))),
            "o_spike": Out(stream.Signature(spike_layout(net.n_layers, max(w[1:])))),
            "full": In(1),
            "debug": In(1),
        })

    @property
    def timing(self) -> dict:
        """The pipeline's delays, for ``hdl/cycle_model.py`` (see docs/core.md).

        groups: ROM reads per event; input_delay: the input register; rom_reg: 0/1;
        layer_delays[l - 1]: cycles from layer l - 1's compare of step t - 1 to layer l's
        compare of step t; decision_delay: the register stage after the output compare;
        output_delay: the result's output register; argmax_delay: extra cycles of a tie or
        no-spike decision.
        """
        return {"groups": self.groups, "input_delay": INPUT_DELAY, "rom_reg": int(self.rom_reg),
                "decision_delay": DECISION_DELAY, "output_delay": OUTPUT_DELAY,
                "layer_delays": list(self.layer_stages),
                "argmax_delay": self.argmax_stages}

    @property
    def argmax_stages(self) -> int:
        return max(1, -(-_bits(self.net.widths[-1]) // ARGMAX_LEVELS_PER_STAGE))

    def rom0_words(self) -> list[int]:
        """Layer 0's ROM as stored: word addr * G + g = neurons g*lanes .. g*lanes+lanes-1."""
        G, lanes = self.groups, self.lanes
        mask = (1 << lanes) - 1
        return [(x >> (g * lanes)) & mask for x in self.net.words[0] for g in range(G)]

    def elaborate(self, platform):
        m = Module()
        net, G = self.net, self.groups
        L = net.n_layers
        widths = net.widths
        n1, n_out = widths[1], widths[-1]

        # ---------------------------------------------------------------- control state
        IDLE, RUN, RESULT, CLEAR = 0, 1, 2, 3
        state = Signal(2, init=CLEAR)       # CLEAR first: loads the counters after reset
        full_r = Signal()
        debug_r = Signal()
        in_done = Signal()                  # the image's last event has been accepted
        open_ = Signal()                    # layer 0 has events of step cur_t not yet compared
        cur_t = Signal(8)
        grp = Signal(range(G))
        cycles = Signal(32)
        res_sent = Signal()
        wait = Signal(range(self.argmax_stages + 1), init=self.argmax_stages)
        adv = Signal()                      # the pipeline advances this cycle
        finished = Signal()                 # decided (early mode) or drained: from registers
        go = Signal()                       # ... and the image's state may change
        m.d.comb += go.eq(adv & (state == RUN))
        clearing = state == CLEAR
        resets = []                         # back to init in CLEAR

        def stage(sig_like, name, value, *, reset=True):
            """A pipeline register: ``value`` delayed one advancing cycle."""
            r = Signal.like(sig_like, name=name)
            with m.If(adv):
                m.d.sync += r.eq(value)
            if reset:
                resets.append(r)
            return r

        # ---------------------------------------------------------------- stage A: events
        # i_event should come from flip-flops (a block RAM's output is slow: put an
        # hdl/skid.py SkidBuffer in between, as hdl/board.py does).
        ev = self.i_event
        p = ev.payload
        accepting = (state == IDLE) | (state == RUN)
        ev_ok = ev.valid & ~in_done & accepting
        close = open_ & (state == RUN) & (in_done | (ev.valid & (p.time != cur_t)))
        last_grp = grp == G - 1
        m.submodules.rom0 = rom = memory.Memory(shape=unsigned(self.lanes), depth=widths[0] * G,
                                                init=self.rom0_words())
        rd = rom.read_port(domain="sync")
        m.d.comb += [rd.en.eq(adv), rd.addr.eq(p.addr * G + grp if G > 1 else p.addr)]
        with m.If(adv & accepting):
            with m.If(close):
                m.d.sync += open_.eq(0)
            with m.If(ev_ok):
                m.d.sync += [cur_t.eq(p.time), open_.eq(1)]
                with m.If(last_grp):
                    m.d.comb += ev.ready.eq(1)
                    m.d.sync += [grp.eq(0), in_done.eq(p.last)]
                with m.Else():
                    m.d.sync += grp.eq(grp + 1)
            with m.If((state == IDLE) & ev.valid):
                m.d.sync += [state.eq(RUN), full_r.eq(self.full), cycles.eq(1 + INPUT_DELAY),
                             debug_r.eq(self.debug if self.debug_port else 0)]
        resets += [in_done, open_, grp]

        # ---------------------------------------------------------------- stage B: ROM data
        b_ev = stage(Signal(), "b_ev", ev_ok)
        b_grp = stage(grp, "b_grp", grp, reset=False)
        b_close = stage(Signal(), "b_close", close)
        b_live = stage(Signal(), "b_live", close & (cur_t != T - 1))     # a compare, not step 255
        b_t = stage(cur_t, "b_t", cur_t, reset=False)

        # ---------------------------------------------------------------- layer 0 counters
        m.submodules.acc0 = acc = Accumulators(
            n=n1, fan_in=widths[0], theta=net.thetas[0], lanes=self.lanes,
            registered=self.rom_reg, dsp_neurons=self.dsp_neurons)
        m.d.comb += [acc.data.eq(rd.data), acc.group.eq(b_grp), acc.add.eq(b_ev & accepting),
                     acc.en.eq(adv), acc.clear.eq(clearing)]
        if self.rom_reg:
            c_close = stage(Signal(), "c_close", b_close)
            c_live = stage(Signal(), "c_live", b_live)
            c_t = stage(cur_t, "c_t", b_t, reset=False)
        else:
            c_close, c_live, c_t = b_close, b_live, b_t

        fired = [Signal(widths[l + 1], name=f"fired{l}") for l in range(L)]
        resets += fired
        cross0 = Signal(n1, name="cross0")
        m.d.comb += cross0.eq(acc.sign & ~fired[0] & c_live.replicate(n1))
        crosses, cross_t = [cross0], [c_t]
        with m.If(go):
            m.d.sync += fired[0].eq(fired[0] | cross0)
        # The token for layer 1: its inputs of time c_t + 1 are fired[0] | cross0, which its
        # tree starts on in this very cycle. A token is integrated (valid) and, unless its
        # time is 255, compared (live); live is worked out a stage ahead of its compare.
        tok_v, tok_live, tok_t = go & c_live, go & c_live & (c_t != T - 2), c_t + 1
        in_flight = [b_ev, b_close] + ([c_close] if self.rom_reg else [])

        # ---------------------------------------------------------------- deeper layers
        out_time = [Signal(9, init=SILENT, name=f"out_time{k}") for k in range(n_out)]
        decided = Signal()
        dec_step = Signal(8)
        dec_mask = Signal(n_out)
        dec_single = Signal()               # exactly one first spiker (no tie)
        shape_out = net.potential_shape(L - 1)
        snap = [Signal(shape_out, name=f"snap{k}") for k in range(n_out)]
        # The output potentials of the last evaluation: V(255) once the image has drained
        # (V = 0, i.e. -theta, before any).
        th_out = min(net.thetas[-1], widths[-2] + 1)
        final = [Signal(shape_out, init=-th_out, name=f"final{k}") for k in range(n_out)]
        resets += [*out_time, decided, dec_mask, *final]
        for l in range(1, L):
            builder = HeapBuilder(m, en=adv, levels_per_stage=self.tree_levels, name=f"t{l}",
                                  counter_inputs=self.tree_counter,
                                  input_levels=TREE_INPUT_LEVELS)
            inputs = Signal(widths[l], name=f"fired_next{l - 1}")
            m.d.comb += inputs.eq(fired[l - 1] | crosses[l - 1])
            vals = layer_potentials(m, builder, net, l, inputs)
            v, live, t = tok_v, tok_live, tok_t
            for s in range(builder.stages):
                v = stage(Signal(), f"tok{l}_s{s}_valid", v)
                live = stage(Signal(), f"tok{l}_s{s}_live", live)
                t = stage(cur_t, f"tok{l}_s{s}_time", t, reset=False)
                in_flight.append(v)
            cross = Signal(widths[l + 1], name=f"cross{l}")
            m.d.comb += cross.eq(Cat(*[~x[-1] for x in vals]) & ~fired[l] & live.replicate(len(vals)))
            crosses.append(cross)
            cross_t.append(t)
            with m.If(go):
                m.d.sync += fired[l].eq(fired[l] | cross)
            if l < L - 1:
                tok_v, tok_live, tok_t = go & live, go & live & (t != T - 2), t + 1
            else:
                # The decision stage: the compare's outcome registered once more, so that the
                # wide enables below do not hang off the trees' last adders.
                d_v = stage(Signal(), "dec_valid", go & v)
                d_cross = stage(cross, "dec_cross", cross)
                d_t = stage(t, "dec_time", t, reset=False)
                d_vals = [stage(x, f"dec_v{k}", x, reset=False) for k, x in enumerate(vals)]
                in_flight.append(d_v)
                with m.If(go & d_v):
                    m.d.sync += [final[k].eq(d_vals[k]) for k in range(n_out)]
                    # In early mode only the deciding step's spikes are output times (the
                    # core runs on for the cycle it takes to stop; later crossings are not
                    # kept).
                    for k in range(n_out):
                        with m.If(d_cross[k] & ~(decided & ~full_r)):
                            m.d.sync += out_time[k].eq(d_t + 1)
                    with m.If(d_cross.any() & ~decided):
                        m.d.sync += [decided.eq(1), dec_step.eq(d_t), dec_mask.eq(d_cross),
                                     dec_single.eq(one_hot(d_cross))]
                        m.d.sync += [snap[k].eq(d_vals[k]) for k in range(n_out)]

        # ---------------------------------------------------------------- debug spikes
        rep = [Signal(widths[l + 1], name=f"rep{l}") for l in range(L)]
        rep_t = [Signal(9, name=f"rep{l}_time") for l in range(L)]
        resets += rep
        if self.debug_port:
            pending = any_of([r.any() for r in rep])
            # Not in the cycle the image finishes: the result may be taken in that cycle and
            # must follow the image's last reported spike.
            with m.If(go & debug_r & ~finished):
                m.d.sync += [rep[l].eq(crosses[l]) for l in range(L)]
                m.d.sync += [rep_t[l].eq(cross_t[l] + 1) for l in range(L)]
            nb = _bits(max(widths[1:]))
            found = [lowest_set([rep[l][j] for j in range(widths[l + 1])], nb) for l in range(L)]
            sp = self.o_spike.payload
            first = Const(1, 1)
            for l in range(L):
                take = first & found[l][0]
                with m.If(take):
                    m.d.comb += [self.o_spike.valid.eq(1), sp.layer.eq(l),
                                 sp.neuron.eq(found[l][1]), sp.time.eq(rep_t[l])]
                    with m.If(self.o_spike.ready):
                        m.d.sync += rep[l].eq(rep[l] & (rep[l] - 1))   # clear the lowest set bit
                first = first & ~found[l][0]
        else:
            pending = C(0, 1)
        m.d.comb += adv.eq(~pending)

        # ---------------------------------------------------------------- end of image
        # Everything here reads registers only: the decision and the end of the image are
        # known one cycle after the output compare / the last activity, anywhere on the die.
        # `drained` lags the pipeline by one cycle so the OR over it stays off the stop path.
        drained = Signal()
        with m.If(adv):
            m.d.sync += drained.eq(in_done & ~open_ & ~any_of(in_flight))
        resets.append(drained)
        m.d.comb += finished.eq((decided & ~full_r) | drained)
        done = (state == RESULT) | ((state == RUN) & finished)
        with m.If((state == RUN) & finished):
            m.d.sync += state.eq(RESULT)

        # ---------------------------------------------------------------- result
        # The argmax's inputs are final from the first `done` cycle on; it needs `wait`
        # cycles, a single first spiker does not wait for it.
        vals = [Mux(decided, snap[k], final[k]) for k in range(n_out)]
        mask = [Mux(decided, dec_mask[k], 1) for k in range(n_out)]
        slow_label = self._argmax(m, vals, mask, C(1, 1))
        fast_label = Signal(_bits(n_out), name="winner")
        for k in range(n_out):
            with m.If(dec_mask[k]):
                m.d.comb += fast_label.eq(k)
        single = dec_single
        # The result goes out through a register (o_result.valid and payload are flip-flops:
        # whatever takes the result sees no path back into the core).
        r = self.o_result.payload
        out_full = Signal()                 # the output register holds this image's result
        ready = done & ((decided & single) | (wait == 0)) & ~pending & ~out_full & ~res_sent
        with m.If(ready):
            m.d.sync += [
                out_full.eq(1),
                r.label.eq(Mux(decided & single, fast_label, slow_label)),
                r.step.eq(Mux(decided, dec_step, T - 1)),
                r.tie.eq(decided & ~single),
                r.no_spike.eq(~decided),
                r.cycles.eq(cycles + 1),    # the cycle it appears in
            ]
            m.d.sync += [r.times[k].eq(out_time[k]) for k in range(n_out)]
        m.d.comb += self.o_result.valid.eq(out_full)
        taken = out_full & self.o_result.ready
        with m.If(((state == RUN) | (state == RESULT)) & ~out_full & ~res_sent):
            m.d.sync += cycles.eq(cycles + 1)
        with m.If(done & (wait != 0)):
            m.d.sync += wait.eq(wait - 1)
        with m.If(taken):
            m.d.sync += [out_full.eq(0), res_sent.eq(1)]
        with m.If(state == RESULT):
            # Drain the rest of the image (early decision).
            with m.If(~in_done):
                m.d.comb += ev.ready.eq(1)
                with m.If(ev.valid & p.last):
                    m.d.sync += in_done.eq(1)
            with m.If((res_sent | taken) & (in_done | (ev.valid & p.last))):
                m.d.sync += state.eq(CLEAR)
        with m.If(clearing):
            # Back to the power-on values for the next image.
            m.d.sync += [s.eq(s.init) for s in resets + [res_sent, cycles, wait]]
            m.d.sync += state.eq(IDLE)
        return m

    def _argmax(self, m, vals, mask, en) -> Value:
        """(lowest-index) argmax of the masked values, ARGMAX_LEVELS_PER_STAGE comparator levels
        per register."""
        def stage(level, nodes):
            if level and level % ARGMAX_LEVELS_PER_STAGE == 0:
                return [self._reg_node(m, nd, en, f"am{level}_{i}") for i, nd in enumerate(nodes)]
            return nodes
        top = masked_argmax(vals, mask, _bits(len(vals)), stage)
        out = self._reg_node(m, top, en, "am_out")
        return out[2]

    @staticmethod
    def _reg_node(m, node, en, name):
        mk, v, i = node
        rm, rv, ri = Signal(name=f"{name}_m"), Signal(Value.cast(v).shape(), name=f"{name}_v"), \
            Signal(Value.cast(i).shape(), name=f"{name}_i")
        with m.If(en):
            m.d.sync += [rm.eq(mk), rv.eq(v), ri.eq(i)]
        return rm, rv, ri
