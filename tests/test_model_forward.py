"""The integer golden model against a literal time-stepped implementation and the reference figures."""
import numpy as np
import pytest

from model.decision import accuracy, decide
from contract.numerics import encode_latency
from model.layer import layer_forward
from model.network import forward, forward_times
from tests.naive import naive_decide, naive_layer


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


def test_threshold_compared_after_whole_step():
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
