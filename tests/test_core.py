"""BS4NNCore (hdl/core.py) against the golden model, in the Amaranth simulator.

Small random networks (64-32-10, 64-24-16-10) and random images: every spike time (full
mode, through o_spike), the decision (label, step, tie, no_spike) in both modes, and the
cycle count against hdl/cycle_model.py, for full parallelism, narrow lane counts and other
pipeline depths.
"""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.back import rtlil

from contract.numerics import SILENT, expected_times
from hdl.core import BS4NNCore, CoreNetwork
from hdl.cycle_model import predict_cycles
from model.network import forward_times
from sim.amaranth_run import simulate


def random_net(rng, widths, thetas):
    ws = [rng.choice(np.array([-1, 1], np.int8), size=(widths[l + 1], widths[l]))
          for l in range(len(widths) - 1)]
    return ws, list(thetas)


def random_images(rng, n, n0, n_images):
    """Input spike times (n_images, n0): a random share of inputs active at random steps."""
    s = np.full((n_images, n0), 255, np.int16)
    for k in range(n_images):
        active = rng.random(n0) < rng.uniform(0.1, 0.9)
        s[k, active] = rng.integers(0, 255, active.sum())
    return s


def to_events(s):
    """Input spike times (n0,) -> (times, addrs) sorted by (time, addr), 255s dropped."""
    order = np.lexsort((np.arange(len(s)), s))
    order = [int(i) for i in order if s[i] < 255]
    if not order:
        return [255], [0]
    return [int(s[i]) for i in order], order


def check(widths, ws, thetas, s_in, *, lanes=None, full=True, debug=True, **params):
    core = BS4NNCore(CoreNetwork.from_weights(ws, thetas), lanes=lanes, **params)
    events = [to_events(s) for s in s_in]
    # The golden model sees exactly what the core sees (dropped inputs at 255).
    gold = forward_times(s_in, ws, thetas)
    results = simulate(core, events, full=full, debug=debug)
    assert len(results) == len(s_in)
    L = len(ws)
    for n, r in enumerate(results):
        d = gold.decision
        want = (int(d.label[n]), int(d.step[n]), bool(d.tie[n]), bool(d.no_spike[n]))
        got = (r["label"], r["step"], r["tie"], r["no_spike"])
        assert got == want, f"image {n}: (label, step, tie, no_spike) {got}, model says {want}"
        want_t = expected_times(gold.spikes[-1][n], int(d.step[n]), L - 1, L,
                                "full" if full else "early").tolist()
        assert r["times"] == want_t, f"image {n}: output times {r['times']} vs {want_t}"
        if debug and full:
            seen = {}
            for l, j, t in r["spikes"]:
                assert (l, j) not in seen, f"image {n}: layer {l} neuron {j} reported twice"
                seen[(l, j)] = t
            for l in range(L):
                hw = np.array([seen.get((l, j), SILENT) for j in range(widths[l + 1])])
                bad = np.flatnonzero(hw != gold.spikes[l][n])
                assert bad.size == 0, (f"image {n}: layer {l} neuron {bad[0]} fired at "
                                       f"{hw[bad[0]]}, model says {gold.spikes[l][n][bad[0]]}")
        if not debug:
            want_c = predict_cycles(events[n][0], [sp[n] for sp in gold.spikes],
                                    full=full, timing=core.timing)
            assert r["cycles"] == want_c, f"image {n}: {r['cycles']} cycles, cycle model says {want_c}"
    return results


NETS = {
    "64-32-10": ([64, 32, 10], [4, 3]),
    "64-24-16-10": ([64, 24, 16, 10], [3, 2, 2]),
}


@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("lanes", [None, 7])
def test_random_full_spikes(name, lanes):
    widths, thetas = NETS[name]
    rng = np.random.default_rng(2000 + 10 * len(widths) + (lanes or 0))
    ws, th = random_net(rng, widths, thetas)
    s_in = random_images(rng, 1, widths[0], 6)
    check(widths, ws, th, s_in, lanes=lanes, full=True, debug=True)


@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("lanes", [None, 10])
@pytest.mark.parametrize("full", [True, False])
def test_random_decision_and_cycles(name, lanes, full):
    widths, thetas = NETS[name]
    rng = np.random.default_rng(1000 + 7 * (lanes or 0) + full + len(widths))
    ws, th = random_net(rng, widths, thetas)
    s_in = random_images(rng, 1, widths[0], 6)
    check(widths, ws, th, s_in, lanes=lanes, full=full, debug=False)


@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("params", [
    {"tree_levels": None, "rom_reg": False},     # everything in as few cycles as possible
    {"tree_levels": 1},                          # a register after every adder level
    {"tree_levels": 2, "rom_reg": False, "lanes": 9},
])
def test_pipeline_depths(name, params):
    """Other pipeline depths: same spikes and decisions, cycles as the model predicts."""
    widths, thetas = NETS[name]
    rng = np.random.default_rng(300 + len(widths) + len(params))
    ws, th = random_net(rng, widths, thetas)
    s_in = random_images(rng, 1, widths[0], 4)
    for full in (True, False):
        check(widths, ws, th, s_in, full=full, debug=False, **params)
    check(widths, ws, th, s_in[:2], full=True, debug=True, **params)


def test_one_lane():
    widths, thetas = NETS["64-24-16-10"]
    rng = np.random.default_rng(11)
    ws, th = random_net(rng, widths, thetas)
    s_in = random_images(rng, 1, widths[0], 2)
    for full in (True, False):
        check(widths, ws, th, s_in, lanes=1, full=full, debug=False)


def test_all_events_at_one_step():
    widths, thetas = NETS["64-24-16-10"]
    rng = np.random.default_rng(5)
    ws, th = random_net(rng, widths, thetas)
    s_in = np.full((3, 64), 255, np.int16)
    s_in[0, :] = 0
    s_in[1, ::2] = 17
    s_in[2, :40] = 100
    for full in (True, False):
        check(widths, ws, th, s_in, full=full, debug=False)
    check(widths, ws, th, s_in, full=True, debug=True)


def test_no_output_spike():
    widths = [64, 32, 10]
    rng = np.random.default_rng(6)
    ws, _ = random_net(rng, widths, [1, 1])
    th = [4, 32]              # theta = fan-in 32, but each output has >= 12 -1 weights: never fires
    s_in = random_images(rng, 1, 64, 4)
    for full in (True, False):
        res = check(widths, ws, th, s_in, full=full, debug=False)
        assert all(r["no_spike"] and r["step"] == 255 for r in res)


def test_exact_tie_lowest_index():
    widths = [64, 32, 10]
    rng = np.random.default_rng(7)
    ws, th = random_net(rng, widths, [4, 3])
    ws[1][:] = ws[1][4]                               # ten identical output neurons
    s_in = random_images(rng, 1, 64, 4)
    for full in (True, False):
        res = check(widths, ws, th, s_in, full=full, debug=False)
        assert all(r["no_spike"] or (r["tie"] and r["label"] == 0) for r in res)
        assert any(not r["no_spike"] for r in res)


def test_single_event_at_255_and_tiny_images():
    widths, thetas = NETS["64-24-16-10"]
    rng = np.random.default_rng(8)
    ws, th = random_net(rng, widths, thetas)
    s_in = np.full((4, 64), 255, np.int16)           # no event below 255: sent as (255, 0)
    s_in[1, 63] = 254
    s_in[2, 0] = 0
    s_in[3, [3, 9]] = 254
    for full in (True, False):
        check(widths, ws, th, s_in, full=full, debug=False)
    check(widths, ws, th, s_in, full=True, debug=True)


def test_debug_back_to_back_with_early_mode():
    """Spike reports in early mode are a prefix-consistent subset of the full-run times."""
    widths, thetas = NETS["64-32-10"]
    rng = np.random.default_rng(9)
    ws, th = random_net(rng, widths, thetas)
    s_in = random_images(rng, 1, 64, 4)
    gold = forward_times(s_in, ws, th)
    res = check(widths, ws, th, s_in, full=False, debug=True)
    for n, r in enumerate(res):
        for l, j, t in r["spikes"]:
            assert gold.spikes[l][n][j] == t, f"image {n}: layer {l} neuron {j} at {t}"


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_bad_parameters():
    ws, th = random_net(np.random.default_rng(0), [8, 4, 2], [1, 1])
    net = CoreNetwork.from_weights(ws, th)
    for bad in (0, 5, 2.0, True):
        with pytest.raises(ValueError, match="lanes"):
            BS4NNCore(net, lanes=bad)
    for bad in (0, 1.5, False):
        with pytest.raises(ValueError, match="tree_levels"):
            BS4NNCore(net, tree_levels=bad)
    for bad in (3, -4, 8):
        with pytest.raises(ValueError, match="dsp_neurons"):
            BS4NNCore(net, dsp_neurons=bad)
    with pytest.raises(ValueError, match="dsp_neurons needs full parallelism"):
        BS4NNCore(net, lanes=2, dsp_neurons=4)
    with pytest.raises(ValueError, match="threshold"):
        CoreNetwork.from_weights(ws, [0, 1])
    with pytest.raises(ValueError, match="2 weight layers"):
        CoreNetwork.from_weights(ws[:1], th[:1])
    with pytest.raises(ValueError):
        CoreNetwork.from_weights([np.zeros((4, 8))] + ws[1:], th)


def literal_words(w):
    """ROM words of a (fan_out, fan_in) +-1 matrix, bit by bit (docs/artifacts.md, "ROMs")."""
    return [sum(1 << j for j in range(w.shape[0]) if w[j, i] > 0) for i in range(w.shape[1])]


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_from_artifacts_matches_from_weights():
    class Art:                                        # duck-typed contract.artifacts.Artifacts
        widths = [8, 4, 2]
        thetas = [2, 1]
        acc_bits = [5, 4]

        def __init__(self, words):
            self._w = words

        def rom_words(self, l):
            return self._w[l]

    ws, th = random_net(np.random.default_rng(1), [8, 4, 2], [2, 1])
    words = [literal_words(w) for w in ws]
    a = CoreNetwork.from_weights(ws, th)
    assert [list(x) for x in a.words] == words
    assert a.acc_bits == (5, 4)
    b = CoreNetwork.from_artifacts(Art(words))
    assert a == b
    core = BS4NNCore(b, lanes=3)
    assert core.groups == 2
    rom = core.layers[0].rom_words()                 # word 2 * addr + g: neurons 3g .. 3g + 2
    assert rom == [(x >> (3 * g)) & 0b111 for x in words[0] for g in range(2)]
    assert core.timing["layer_delays"] == [core.layers[1].latency]
    assert "rom" in rtlil.convert(core)               # and it elaborates


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_acc_bits_checked_against_the_counters():
    ws, th = random_net(np.random.default_rng(2), [8, 4, 2], [2, 1])
    net = CoreNetwork.from_weights(ws, th)
    BS4NNCore(CoreNetwork.build(net.widths, net.thetas, net.words, [6, 4]))   # wider: fine
    with pytest.raises(ValueError, match="acc_bits 3 cannot hold V for fan-in 8"):
        BS4NNCore(CoreNetwork.build(net.widths, net.thetas, net.words, [3, 4]))
