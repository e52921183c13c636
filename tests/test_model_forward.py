"""The integer golden model against a literal time-stepped implementation and the reference figures."""
import numpy as np
import pytest

from model.decision import accuracy, decide
from contract.numerics import encode_latency
from model.layer import layer_forward, padded_rows, peak_before, slot_scan
from model.network import forward, forward_times
from model.realvalued import real_layer_forward
from tests.naive import (naive_decide, naive_layer, old_forward_times, old_layer_forward,
                         old_peak_before, old_scan)


def random_net(rng, widths, theta):
    return [rng.choice([-1, 1], size=(o, i)).astype(np.int8) for i, o in zip(widths, widths[1:])], theta


@pytest.mark.parametrize("widths,thetas", [((50, 30, 10), (3, 2)), ((40, 24, 16, 10), (2, 2, 1))])
def test_layers_match_literal_time_loop(widths, thetas):
    rng = np.random.default_rng(1)
    ws, _ = random_net(rng, widths, thetas)
    # Few distinct times so many events share a step; some pixels at 255 and 0.
    s = rng.choice([0, 3, 3, 7, 100, 254, 255], size=(64, widths[0])).astype(np.int16)
    r = forward_times(s, ws, thetas)
    x = s
    for l, (w, th) in enumerate(zip(ws, thetas)):
        want, vc, vf = naive_layer(x, w, th)
        np.testing.assert_array_equal(r.spikes[l], want, err_msg=f"layer {l}")
        x = want
    labels, steps = naive_decide(x, vc, vf)
    np.testing.assert_array_equal(r.decision.label, labels)
    np.testing.assert_array_equal(r.decision.step, steps)
    np.testing.assert_array_equal(r.v_final, vf)
    assert (x < 256).any(), "test network should fire"


@pytest.mark.parametrize("small", [0, 10 ** 9], ids=["slot-loop", "along-events"])
def test_threshold_compared_after_whole_step(small, monkeypatch):
    monkeypatch.setattr("model.layer.SMALL", small)
    # +1 then -1 at the same step: V never reaches 1 at a step end, so no spike.
    w = np.array([[1, -1]], np.int8)
    assert layer_forward(np.array([[5, 5]]), w, 1).spikes[0, 0] == 256
    # The +1 a step earlier: crosses at step 4, spikes at 5.
    assert layer_forward(np.array([[4, 5]]), w, 1).spikes[0, 0] == 5
    # Crossing at step 255 is silent.
    assert layer_forward(np.array([[255, 256]]), w, 1).spikes[0, 0] == 256


def test_decision_tie_and_fallback():
    out = np.array([[7, 7, 9], [256, 256, 256], [5, 256, 5]])
    vc = np.array([[3, 4, 9], [0, 0, 0], [2, 0, 2]])
    vf = np.array([[0, 0, 0], [1, 4, 4], [0, 0, 0]])
    d = decide(out, vc, vf)
    assert d.label.tolist() == [1, 1, 0]
    assert d.step.tolist() == [6, 255, 4]
    assert d.tie.tolist() == [True, False, True]
    assert d.no_spike.tolist() == [False, True, False]


def test_encoding_rejects_non_uint8():
    with pytest.raises(ValueError, match="uint8"):
        encode_latency(np.zeros((1, 784), np.float32))
    assert encode_latency(np.array([[0, 255, 10]], np.uint8)).tolist() == [[255, 0, 245]]


def test_authors_network_reproduces_reference_figures(mnist, reference_npz):
    ref = np.load(reference_npz)
    r = forward(mnist.test.images, [ref["w0"], ref["w1"]], [int(t) for t in ref["theta"]])
    strict, paper = accuracy(r.decision, mnist.test.labels)
    assert (strict, paper) == (0.9607, 0.9693)
    assert int(r.decision.tie.sum()) == 233
    assert int(r.decision.no_spike.sum()) == 483


def edge_case_times(rng, B, n_in):
    """Input times with many ties, the edge steps 0, 254, 255, 256, and edge samples: no
    event before 255, every input silent, a single early event."""
    s = rng.choice([0, 0, 1, 2, 2, 50, 254, 255, 256], size=(B, n_in)).astype(np.int16)
    s[0] = 255
    s[1] = 256
    s[2] = 256
    s[2, 3] = 7
    s[3] = rng.integers(0, 257, n_in)
    return s


@pytest.mark.parametrize("small", [0, 10 ** 9], ids=["slot-loop", "along-events"])
@pytest.mark.parametrize("seed,widths,thetas", [(11, (30, 20, 10), (1, 1)),
                                                (12, (64, 40, 10), (3, 2)),
                                                (13, (50, 25, 16, 10), (2, 4, 1)),
                                                (14, (20, 12, 10), (40, 1))])
def test_event_formulation_matches_literal_loop_on_edge_cases(seed, widths, thetas, small,
                                                              monkeypatch):
    """Both ways of following the events (a Python loop over events and slots for large
    chunks, one call along the event axis for small ones) against the literal loop."""
    monkeypatch.setattr("model.layer.SMALL", small)
    rng = np.random.default_rng(seed)
    ws, _ = random_net(rng, widths, thetas)
    s = edge_case_times(rng, 48, widths[0])
    r = forward_times(s, ws, thetas)
    x = s
    for l, (w, th) in enumerate(zip(ws, thetas)):
        want, vc, vf = naive_layer(x, w, th)
        got = layer_forward(x, w, th)
        np.testing.assert_array_equal(got.spikes, want, err_msg=f"layer {l}")
        # (the literal loop also records V at a crossing in step 255, a silent neuron)
        np.testing.assert_array_equal(got.v_cross, np.where(want < 256, vc, 0), f"layer {l}")
        np.testing.assert_array_equal(got.v_final, vf, err_msg=f"layer {l}")
        np.testing.assert_array_equal(r.spikes[l], want)
        x = want
    labels, steps = naive_decide(x, vc, vf)
    np.testing.assert_array_equal(r.decision.label, labels)
    np.testing.assert_array_equal(r.decision.step, steps)


def test_event_formulation_equals_previous_scan_on_test_images(mnist, reference_npz):
    """Bit for bit the previous (B, K, N) cumulative-sum layer on 2,000 real test images:
    spike times of every layer, v_cross, v_final, decisions; threads change nothing."""
    ref = np.load(reference_npz)
    ws, th = [ref["w0"], ref["w1"]], [int(t) for t in ref["theta"]]
    images = mnist.test.images[:2000]
    spikes, vc, vf = old_forward_times(encode_latency(images), ws, th)
    for threads in (1, 2):
        r = forward(images, ws, th, batch=700, threads=threads)
        for l in range(2):
            np.testing.assert_array_equal(r.spikes[l], spikes[l])
        for got, want in ((r.v_cross, vc), (r.v_final, vf)):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(r.label, decide(spikes[1], vc, vf).label)


@pytest.mark.parametrize("small", [0, 10 ** 9], ids=["slot-loop", "along-events"])
def test_real_valued_layer_equals_previous_scan(mnist, small, monkeypatch):
    """The S4NN mode (float32 weights, strict compare) through the same event formulation:
    the same float sums as the previous cumulative sum."""
    monkeypatch.setattr("model.layer.SMALL", small)
    rng = np.random.default_rng(15)
    w = rng.normal(0.05, 1.0, (80, 784)).astype(np.float32)
    s = encode_latency(mnist.test.images[:300])
    for th in (3.7, 12.25):
        a = real_layer_forward(s, w, th)
        b = old_layer_forward(s, w, th, strict=True, dtype=np.float32)
        for f in ("spikes", "v_cross", "v_final"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


def test_peak_before_equals_previous_scan(mnist):
    rng = np.random.default_rng(16)
    w = rng.choice([-1, 1], size=(100, 784)).astype(np.int16)
    s = encode_latency(mnist.test.images[:200])
    limit = rng.integers(-1, 255, 200)
    sc = slot_scan(s, padded_rows(np.ascontiguousarray(w.T)))
    got = peak_before(sc, limit)
    want = old_peak_before(old_scan(s, np.ascontiguousarray(w.T)), limit)
    valid = want[2]
    np.testing.assert_array_equal(got[2], valid)
    assert valid.any() and not valid.all()
    for g, x in zip(got[:2], want[:2]):
        np.testing.assert_array_equal(g[valid], x[valid])
