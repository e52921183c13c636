"""The BS4NN inference core: an event-driven pipeline of binary integrate-and-fire layers.

Numerics are SPEC sections 2-4 exactly; ports are docs/core.md. Architecture (SPEC 8):

* Layer 0 is event driven. Each input event (time, addr) reads its fan-out row from a
  block-RAM ROM (`lib.memory.Memory`, one word per input) and every accumulator adds +1 or
  -1 by its weight bit. With ``lanes < N1`` the row is split into ``G = ceil(N1 / lanes)``
  words and an event takes G cycles (one group of `lanes` neurons per cycle).
* Accumulators start at -theta so "V >= theta" is "sign bit clear". When the next event
  has a later time (or the image's last event has been added), the step is closed: all
  neurons are compared in one cycle, overlapped with the first read of the next step.
* Deeper layers receive, per step, the vector of the previous layer's new spikes and
  integrate ALL of it in one cycle: V_k += 2 * popcount(spikes & plus_k) - popcount(spikes),
  with the weights as constants in logic (no ROM, no multipliers), then compare in the
  same cycle. A crossing at step t becomes a spike at t + 1 and is passed on, so layer l
  handles step t one cycle after layer l - 1 handled step t - 1: the layers form a
  pipeline in time order, and steps without any input for a layer cost nothing.
* Decision at the first output crossing (early mode) or after the last event has flowed
  through (``full`` = 1, or no output spike). Ties: highest V at the crossing step, then
  the lowest index; no spike: argmax V(255), lowest index on equal.

`hdl/cycle_model.py` predicts the cycle count of this pipeline from a spike trace.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from amaranth import *
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .trees import any_of, lowest_set, masked_argmax, popcount

__all__ = ["BS4NNCore", "CoreNetwork", "event_layout", "result_layout", "spike_layout"]

T = 256
SILENT = 256


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

    def acc_shape(self, l: int) -> Shape:
        """Signed shape that holds V - theta for every reachable V (|V| <= fan-in)."""
        f = self.widths[l]
        th = min(self.thetas[l], f + 1)
        return Shape.cast(range(-f - th, f - th + 1))

    def acc_init(self, l: int) -> int:
        return -min(self.thetas[l], self.widths[l] + 1)


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
    tree_inputs : int or None
        Deeper layers integrate a step's spike vector in chunks of this many inputs, one
        non-empty chunk per cycle (the pipeline waits for the rest); None = the whole vector
        in one cycle (an adder tree over the full fan-in per neuron).
    debug_port : bool
        Build the ``o_spike`` logic (a priority encoder per layer). When False, ``o_spike``
        stays in the signature but never becomes valid, and ``debug`` is ignored.

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
        Bad ``lanes``, or a network the core cannot run (see ``CoreNetwork.build``).
    """

    def __init__(self, net, *, lanes: int | None = None, tree_inputs: int | None = None,
                 debug_port: bool = True):
        if not isinstance(net, CoreNetwork):
            net = CoreNetwork.from_artifacts(net)
        n1 = net.widths[1]
        if lanes is None:
            lanes = n1
        if not isinstance(lanes, int) or isinstance(lanes, bool) or not 1 <= lanes <= n1:
            raise ValueError(f"lanes must be an integer in 1..{n1} (first hidden width), "
                             f"got {lanes!r}")
        if tree_inputs is not None and (not isinstance(tree_inputs, int) or
                                        isinstance(tree_inputs, bool) or tree_inputs < 1):
            raise ValueError(f"tree_inputs must be None or an integer >= 1, got {tree_inputs!r}")
        self.net = net
        self.lanes = lanes
        self.tree_inputs = tree_inputs
        self.groups = -(-n1 // lanes)
        self.debug_port = bool(debug_port)
        w = net.widths
        super().__init__({
            "i_event": In(stream.Signature(event_layout(w[0]))),
            "o_result": Out(stream.Signature(result_layout(w[-1]))),
            "o_spike": Out(stream.Signature(spike_layout(net.n_layers, max(w[1:])))),
            "full": In(1),
            "debug": In(1),
        })

    def rom0_words(self) -> list[int]:
        """Layer 0's ROM as stored: word addr * G + g = neurons g*lanes .. g*lanes+lanes-1."""
        G, lanes = self.groups, self.lanes
        mask = (1 << lanes) - 1
        return [(x >> (g * lanes)) & mask for x in self.net.words[0] for g in range(G)]

    def elaborate(self, platform):
        m = Module()
        net, G, lanes = self.net, self.groups, self.lanes
        L = net.n_layers
        widths = net.widths
        n0, n1, n_out = widths[0], widths[1], widths[-1]

        # ---------------------------------------------------------------- control state
        IDLE, RUN, RESULT, CLEAR = 0, 1, 2, 3
        state = Signal(2, init=IDLE)
        full_r = Signal()
        debug_r = Signal()
        in_done = Signal()                  # the image's last event has been accepted
        open_ = Signal()                    # layer 0 has events of step cur_t not yet compared
        cur_t = Signal(8)
        grp = Signal(range(G))              # group of the current event being read
        cycles = Signal(32)
        res_sent = Signal()

        # Stage B (one cycle behind the ROM read): what to do with the read data.
        b_ev = Signal()
        b_grp = Signal(range(G))
        b_bnd = Signal()
        b_t = Signal(8)

        # Per layer: accumulators (V - theta), fired flags.
        accs = [[Signal(net.acc_shape(l), init=net.acc_init(l), name=f"acc{l}_{j}")
                 for j in range(widths[l + 1])] if l > 0 or G == 1 else [] for l in range(L)]
        fired = [Signal(widths[l + 1], name=f"fired{l}") for l in range(L)]
        # Per layer l < L-1: new spikes passed to layer l+1 (valid, time = step to integrate).
        vec = [Signal(widths[l + 1], name=f"vec{l}") for l in range(L - 1)]
        vec_v = [Signal(name=f"vec{l}_valid") for l in range(L - 1)]
        vec_t = [Signal(8, name=f"vec{l}_time") for l in range(L - 1)]
        # Output layer bookkeeping.
        out_time = [Signal(9, init=SILENT, name=f"out_time{k}") for k in range(n_out)]
        decided = Signal()
        dec_step = Signal(8)
        dec_mask = Signal(n_out)
        snap = [Signal(net.acc_shape(L - 1), name=f"snap{k}") for k in range(n_out)]
        # Debug reports: per layer the spikes still to send, and their time.
        rep = [Signal(widths[l + 1], name=f"rep{l}") for l in range(L)]
        rep_t = [Signal(9, name=f"rep{l}_time") for l in range(L)]
        pending = any_of([r.any() for r in rep]) if self.debug_port else C(0, 1)
        adv = Signal()                      # the pipeline advances this cycle

        running = (state == IDLE) | (state == RUN)
        go = Signal()                       # stage B and the deeper layers act this cycle
        m.d.comb += go.eq(adv & (state == RUN))

        # ---------------------------------------------------------------- layer-0 ROM
        m.submodules.rom0 = rom = memory.Memory(shape=unsigned(lanes), depth=n0 * G,
                                                init=self.rom0_words())
        rd = rom.read_port(domain="sync")
        m.d.comb += rd.en.eq(adv)

        # ---------------------------------------------------------------- stage A
        ev = self.i_event
        p = ev.payload
        ev_ok = ev.valid & ~in_done & running
        need_bnd = open_ & (in_done | (ev.valid & (p.time != cur_t))) & (state == RUN)
        if G > 1:
            m.d.comb += rd.addr.eq(p.addr * G + grp)
        else:
            m.d.comb += rd.addr.eq(p.addr)
        last_grp = grp == G - 1
        m.d.comb += ev.ready.eq(0)
        stop = Signal()                     # early decision or done: leave RUN this cycle
        with m.If(adv & running):
            m.d.sync += [b_ev.eq(ev_ok), b_grp.eq(grp), b_bnd.eq(need_bnd), b_t.eq(cur_t)]
            with m.If(need_bnd):
                m.d.sync += open_.eq(0)
            with m.If(ev_ok & ~stop):
                m.d.sync += [cur_t.eq(p.time), open_.eq(1)]
                with m.If(last_grp):
                    m.d.comb += ev.ready.eq(1)
                    m.d.sync += [grp.eq(0), in_done.eq(p.last)]
                with m.Else():
                    m.d.sync += grp.eq(grp + 1)
            with m.If(state == IDLE):
                with m.If(ev.valid):
                    m.d.sync += [state.eq(RUN), full_r.eq(self.full), cycles.eq(1),
                                 debug_r.eq(self.debug if self.debug_port else 0)]
            with m.Else():
                m.d.sync += cycles.eq(cycles + 1)
        with m.Elif(state == RUN):
            m.d.sync += cycles.eq(cycles + 1)

        # ---------------------------------------------------------------- stage B: layer 0
        not_last_step = b_t != T - 1
        plus_minus = [Mux(rd.data[k], C(1, signed(2)), C(-1, signed(2))) for k in range(lanes)]
        if G == 1:
            # Full parallelism: one register and one +-1 adder per neuron.
            for j in range(n1):
                with m.If(go & b_ev):
                    m.d.sync += accs[0][j].eq(accs[0][j] + plus_minus[j])
            below = [accs[0][j][-1] for j in range(n1)]
        else:
            # Lanes: the accumulators live in a G-deep distributed RAM, one word per group
            # (read-modify-write of group b_grp in one cycle, `lanes` adders); their sign
            # bits are mirrored in flip-flops so the step compare still sees all neurons.
            w0 = net.acc_shape(0).width
            init0 = net.acc_init(0) & ((1 << w0) - 1)
            m.submodules.acc0 = accmem = memory.Memory(
                shape=unsigned(lanes * w0), depth=G,
                init=[sum(init0 << (k * w0) for k in range(lanes))] * G)
            rp = accmem.read_port(domain="comb")
            wp = accmem.write_port()
            written = Signal(G, name="acc0_written")   # groups holding this image's values
            m.d.comb += [rp.addr.eq(b_grp), wp.addr.eq(b_grp), wp.en.eq(go & b_ev)]
            fresh = ~written.bit_select(b_grp, 1)
            sign = Signal(n1, init=(1 << n1) - 1, name="acc0_sign")
            for k in range(lanes):
                old_v = Mux(fresh, C(net.acc_init(0), net.acc_shape(0)),
                            rp.data[k * w0:(k + 1) * w0].as_signed())
                new_v = Signal(net.acc_shape(0), name=f"acc0_lane{k}")
                m.d.comb += [new_v.eq(old_v + plus_minus[k]), wp.data[k * w0:(k + 1) * w0].eq(new_v)]
                for g in range(G):
                    j = g * lanes + k
                    if j < n1:
                        with m.If(go & b_ev & (b_grp == g)):
                            m.d.sync += sign[j].eq(new_v[-1])
            with m.If(go & b_ev):
                m.d.sync += written.bit_select(b_grp, 1).eq(1)
            below = [sign[j] for j in range(n1)]
            clear_extra = [written, sign]
        cross0 = Cat(*[~below[j] & ~fired[0][j] for j in range(n1)]) \
            & Mux(b_bnd & not_last_step, (1 << n1) - 1, 0)
        crosses = [cross0]
        cross_t = [b_t]
        with m.If(go):
            m.d.sync += fired[0].eq(fired[0] | cross0)
            m.d.sync += [vec[0].eq(cross0), vec_v[0].eq(cross0.any()), vec_t[0].eq(b_t + 1)]

        # ---------------------------------------------------------------- deeper layers
        chunk_stalls = []
        chunk_regs = []
        for l in range(1, L):
            n_in, n_o = widths[l], widths[l + 1]
            x, xv, xt = vec[l - 1], vec_v[l - 1], vec_t[l - 1]
            C_ = self.tree_inputs
            if C_ is None or C_ >= n_in:
                # The whole step's spike vector in one cycle.
                xs = [x[i] for i in range(n_in)]
                plus_masks = [[(net.words[l][i] >> kk) & 1 for i in range(n_in)] for kk in range(n_o)]
                final = Const(1, 1)
            else:
                # Chunks of C_ inputs, one non-empty chunk per cycle; the pipeline waits
                # (adv = 0) until the last one, which is integrated and compared like above.
                nch = -(-n_in // C_)
                xp = Cat(x, C(0, nch * C_ - n_in)) if nch * C_ > n_in else x
                done_ch = Signal(nch, name=f"chunks_done{l}")
                chunk_regs.append(done_ch)
                rem = Signal(nch, name=f"chunks_left{l}")
                cidx = Signal(_bits(nch), name=f"chunk{l}")
                final = Signal(name=f"chunk_final{l}")     # only one chunk left
                xc = Signal(C_, name=f"chunk_bits{l}")
                m.d.comb += [
                    rem.eq(Cat(*[xp[c * C_:(c + 1) * C_].any() for c in range(nch)]) & ~done_ch),
                    cidx.eq(lowest_set([rem[c] for c in range(nch)], _bits(nch))[1]),
                    final.eq((rem & (rem - 1)) == 0),
                    xc.eq(xp.word_select(cidx, C_)),
                ]
                xs = [xc[b] for b in range(C_)]
                plus_masks = []
                for kk in range(n_o):
                    consts = []
                    for c in range(nch):
                        v = 0
                        for b in range(C_):
                            i = c * C_ + b
                            if i < n_in and (net.words[l][i] >> kk) & 1:
                                v |= 1 << b
                        consts.append(C(v, C_))
                    sel = Signal(C_, name=f"plus{l}_{kk}")
                    m.d.comb += sel.eq(Array(consts)[cidx])
                    plus_masks.append([sel[b] for b in range(C_)])
                partial = Signal(name=f"chunk_stall{l}")
                m.d.comb += partial.eq((state == RUN) & ~pending & xv & ~final)
                chunk_stalls.append(partial)
                with m.If(partial):
                    m.d.sync += done_ch.eq(done_ch | (rem & ~(rem - 1)))
                with m.If(go & xv):
                    m.d.sync += done_ch.eq(0)
            pc_all_v = popcount(xs)
            pc_all = Signal(pc_all_v.shape(), name=f"pc_all{l}")
            m.d.comb += pc_all.eq(pc_all_v)
            crs = []
            nexts = []
            for kk in range(n_o):
                pm = plus_masks[kk]
                terms = [xs[i] & pm[i] if not isinstance(pm[i], int) else xs[i]
                         for i in range(len(xs)) if not (isinstance(pm[i], int) and pm[i] == 0)]
                pc_plus = popcount(terms)
                a_next_v = accs[l][kk] + (pc_plus << 1) - pc_all
                a_next = Signal(a_next_v.shape(), name=f"acc{l}_{kk}_next")
                m.d.comb += a_next.eq(a_next_v)
                nexts.append(a_next)
                crs.append(~a_next[-1] & ~fired[l][kk])
            cross = Cat(*crs) & Mux(xv & final & (xt != T - 1), (1 << n_o) - 1, 0)
            crosses.append(cross)
            cross_t.append(xt)
            if chunk_stalls and C_ is not None and C_ < n_in:
                with m.If(partial):
                    m.d.sync += [accs[l][kk].eq(nexts[kk]) for kk in range(n_o)]
            with m.If(go & xv):
                m.d.sync += [accs[l][kk].eq(nexts[kk]) for kk in range(n_o)]
                m.d.sync += fired[l].eq(fired[l] | cross)
            if l < L - 1:
                with m.If(go):
                    m.d.sync += [vec[l].eq(cross), vec_v[l].eq(cross.any()), vec_t[l].eq(xt + 1)]
            else:
                out_cross = cross
                with m.If(go):
                    for kk in range(n_o):
                        with m.If(cross[kk]):
                            m.d.sync += out_time[kk].eq(xt + 1)
                    with m.If(cross.any() & ~decided):
                        m.d.sync += [decided.eq(1), dec_step.eq(xt), dec_mask.eq(cross)]
                        m.d.sync += [snap[kk].eq(nexts[kk]) for kk in range(n_o)]

        m.d.comb += adv.eq(~pending & ~any_of(chunk_stalls))

        # ---------------------------------------------------------------- end of image
        in_flight = b_ev | b_bnd | open_ | any_of(list(vec_v))
        done = in_done & ~in_flight
        early = out_cross.any() & ~full_r
        m.d.comb += stop.eq((state == RUN) & adv & (early | done))
        with m.If(stop):
            m.d.sync += state.eq(RESULT)

        # ---------------------------------------------------------------- debug spikes
        if self.debug_port:
            with m.If(go & debug_r):
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

        # ---------------------------------------------------------------- result
        r = self.o_result.payload
        vals = [Mux(decided, snap[k], accs[L - 1][k]) for k in range(n_out)]
        mask = [Mux(decided, dec_mask[k], 1) for k in range(n_out)]
        _, label = masked_argmax(vals, mask, _bits(n_out))
        m.d.comb += [
            r.label.eq(label),
            r.step.eq(Mux(decided, dec_step, T - 1)),
            r.tie.eq(decided & (popcount([dec_mask[k] for k in range(n_out)]) > 1)),
            r.no_spike.eq(~decided),
            r.cycles.eq(cycles),
        ]
        m.d.comb += [r.times[k].eq(out_time[k]) for k in range(n_out)]
        m.d.comb += self.o_result.valid.eq((state == RESULT) & ~res_sent & ~pending)
        with m.If(state == RESULT):
            with m.If(self.o_result.valid & self.o_result.ready):
                m.d.sync += res_sent.eq(1)
            # Drain the rest of the image (early decision).
            with m.If(~in_done):
                m.d.comb += ev.ready.eq(1)
                with m.If(ev.valid & p.last):
                    m.d.sync += in_done.eq(1)
            with m.If((res_sent | (self.o_result.valid & self.o_result.ready))
                      & (in_done | (ev.valid & p.last))):
                m.d.sync += state.eq(CLEAR)
        with m.If(state == CLEAR):
            # Back to the power-on values for the next image.
            regs = [in_done, open_, grp, res_sent, b_ev, b_bnd, decided, dec_mask, cycles,
                    *fired, *vec, *vec_v, *out_time, *rep,
                    *[a for layer in accs for a in layer]]
            if G > 1:
                regs += clear_extra
            regs += chunk_regs
            m.d.sync += [s.eq(s.init) for s in regs]
            m.d.sync += state.eq(IDLE)
        return m
