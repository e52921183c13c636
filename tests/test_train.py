"""Training: the training forward is the integer contract, the backward matches the rule's
definition, and a short run learns and writes a loadable checkpoint."""
from __future__ import annotations

import time

import numpy as np
import pytest

from contract.numerics import SILENT, T, encode_latency
from model.checkpoint import binarize, load_checkpoint, theta_from_fact
from model.config import TrainConfig
from model.layer import layer_forward
from model.loop import Trainer, train
from model.network import forward_times
from model.realvalued import real_layer_forward
from model.rules.bs4nn import backward, targets
from model.rules.bs4nn_literal import literal_step
from model.rules.decision_ce import decision_step
from model.rules.temporal_grad import grad_sparse_inputs
from model.trainable import Net


def _net(rng, widths=(784, 600, 10)):
    cfg = TrainConfig(hidden=list(widths[1:-1]), rule="bs4nn")
    net = Net(widths, cfg, rng)
    # Mixed signs so that the forward is not trivial, thresholds as a trained net has.
    net.W = [rng.normal(0.3, 1.0, w.shape).astype(np.float32) for w in net.W]
    net.fact = np.array([4.037, 9.065][:len(net.W)] + [6.0] * (len(net.W) - 2))
    return net


@pytest.mark.parametrize("widths", [(784, 600, 10), (784, 100, 50, 10)])
def test_training_forward_is_the_integer_golden_forward(mnist, widths):
    rng = np.random.default_rng(1)
    net = _net(rng, widths)
    s_in = encode_latency(mnist.train.images[:200])
    gold = forward_times(s_in, [binarize(w) for w in net.W],
                         [theta_from_fact(100.0, f) for f in net.fact])
    mine = net.forward_times(s_in)
    layers = net.layers(s_in)
    for l in range(len(widths) - 1):
        np.testing.assert_array_equal(mine.spikes[l], gold.spikes[l])
        np.testing.assert_array_equal(layers[l].spikes, gold.spikes[l])
    np.testing.assert_array_equal(mine.label, gold.label)
    assert (gold.spikes[0] < SILENT).any() and (gold.spikes[0] == SILENT).any()


def test_real_forward_with_binary_weights_matches_integer_layer(mnist):
    rng = np.random.default_rng(2)
    w = np.where(rng.random((300, 784)) < 0.6, 1, -1).astype(np.int8)
    s_in = encode_latency(mnist.train.images[:100])
    for theta in (5, 25):
        a = layer_forward(s_in, w, theta)
        b = real_layer_forward(s_in, w.astype(np.float32), theta - 0.5)  # V > theta-0.5
        np.testing.assert_array_equal(a.spikes, b.spikes)
        np.testing.assert_array_equal(a.v_final, b.v_final.astype(np.int16))


def test_sparse_gradient_equals_definition():
    rng = np.random.default_rng(3)
    B, n_in, n_out = 16, 50, 30
    s_in = rng.integers(0, 257, (B, n_in)).astype(np.int16)
    s_in[:, :10] = 255                                   # zero pixels
    s_out = rng.integers(0, 257, (B, n_out)).astype(np.int16)
    s_out[:, :5] = SILENT
    e = rng.standard_normal((B, n_out)).astype(np.float32)
    H = (s_in[:, None, :] < s_out[:, :, None]).astype(np.float32)      # (B, N_out, N_in)
    want = np.einsum("bj,bji->ji", e, H)
    np.testing.assert_allclose(grad_sparse_inputs(s_in, s_out, e), want, rtol=1e-5, atol=1e-5)


def test_targets_rule():
    o = np.array([[30, 30, 40, 100, 256],       # tie between label 0 and 1
                  [50, 20, 21, 256, 256],       # label 0 late, 2 inside the margin
                  [256, 256, 256, 256, 256]])   # nothing fired
    y = np.array([0, 0, 1])
    t = targets(o, y, gamma=5)
    np.testing.assert_array_equal(t[0], [30, 35, 40, 100, 256])
    np.testing.assert_array_equal(t[1], [20, 25, 25, 256, 256])
    np.testing.assert_array_equal(t[2], [T] * 5)
    t4 = targets(o, y, gamma=5, no_spike="s4nn")
    np.testing.assert_array_equal(t4[2], [256, 251, 256, 256, 256])


def test_backward_errors_are_normalised_and_point_the_right_way(mnist):
    """Each layer's update is its unit-norm error times H (the raw errors are not unit)."""
    rng = np.random.default_rng(4)
    net = _net(rng)
    s_in = encode_latency(mnist.train.images[:64])
    y = mnist.train.labels[:64].astype(np.int64)
    layers = net.layers(s_in)
    dWs, dfs, loss = backward(net.W, s_in, layers, y, 5, "s4nn")
    assert [d.shape for d in dWs] == [w.shape for w in net.W]
    assert loss > 0 and all(np.isfinite(d).all() for d in dWs)
    # A label neuron that should fire earlier gets a negative error, i.e. its weights from
    # earlier inputs grow under W -= lr * dW.
    o = layers[-1].spikes
    late = np.flatnonzero(o[np.arange(64), y] > o.min(axis=1))
    assert len(late) > 0
    b = late[0]
    one = backward(net.W, s_in[b:b + 1], [type(r)(r.spikes[b:b + 1], r.v_cross[b:b + 1],
                                                 r.v_final[b:b + 1]) for r in layers],
                   y[b:b + 1], 5, "s4nn")[0]
    assert (one[1][y[b]] <= 0).all() and (one[1][y[b]] < 0).any()
    # Normalisation: output error e = (target - o) / T scaled to unit L2 norm, dW1 = e_j H_ji;
    # the error sent down, sum_j W_ji e_j H_ji, scaled to unit norm too, dW0 = e_j H_ji.
    hidden, out = layers[0].spikes[b].astype(np.int32), o[b].astype(np.int32)
    e_raw = (targets(o[b:b + 1], y[b:b + 1], 5, "s4nn")[0] - out) / T
    assert abs(np.linalg.norm(e_raw) - 1) > 0.1
    e = e_raw / np.linalg.norm(e_raw)
    H1 = (hidden[None, :] < out[:, None]).astype(np.float64)
    np.testing.assert_allclose(one[1], e[:, None] * H1, rtol=1e-5, atol=1e-6)
    below = (net.W[1] * e[:, None] * H1).sum(axis=0)
    assert abs(np.linalg.norm(below) - 1) > 0.1
    H0 = (s_in[b][None, :] < hidden[:, None]).astype(np.float64)
    np.testing.assert_allclose(one[0], (below / np.linalg.norm(below))[:, None] * H0,
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("rule", ["decision", "bs4nn"])
def test_short_training_run_learns_and_saves(mnist, data_dir, tmp_path, rule):
    extra = {"lr": 1.0, "gamma": 5, "no_spike": "s4nn"} if rule == "bs4nn" else {"theta": [12, 10]}
    cfg = TrainConfig(rule=rule, epochs=2, batch_size=32, val_size=500, train_subset=2000,
                      hidden=[100], threads=2, seed=0, **extra)
    out = tmp_path / "small.npz"
    ck, hist = train(cfg, data_dir, out, progress=False, log=lambda s: None)
    assert len(hist) == 2
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert max(h["val_strict"] for h in hist) > 0.5           # chance is 0.1
    assert ck.meta["test"]["strict"] > 0.5
    back = load_checkpoint(out)
    assert back.widths == [784, 100, 10]
    assert back.thetas == [theta_from_fact(100.0, f) for f in back.fact]
    assert back.meta["mode"] == "binary" and back.meta["dataset"] == "mnist"
    assert back.meta["data_sha256"] == mnist.sha256
    assert back.meta["val"]["strict"] == max(h["val_strict"] for h in hist)
    assert out.with_suffix(".png").stat().st_size > 1000
    # The saved weights reproduce the recorded test figure under the golden model.
    f = forward_times(encode_latency(mnist.test.images), back.binary_weights, back.thetas)
    assert float((f.label == mnist.test.labels).mean()) == pytest.approx(back.meta["test"]["strict"], abs=1e-6)


def test_vectorised_step_equals_literal_per_sample_rule(mnist):
    rng = np.random.default_rng(5)
    net = _net(rng, (784, 60, 10))
    net.fact = np.array([4.037, 3.0])
    cfg = TrainConfig(rule="bs4nn", gamma=3, no_spike="s4nn", threads=1).resolved()
    step = Trainer(net, cfg).step
    for k in range(3):
        x, y = mnist.train.images[k], int(mnist.train.labels[k])
        W = [w.astype(np.float64) for w in net.W]
        fact = net.fact.copy()
        lit = literal_step(W, fact, x, y, lr=0.5, lr_f=0.01, gamma=3, no_spike="s4nn")
        fw = net.forward_times(encode_latency(x[None]))
        for l in range(2):                      # time-stepped forward == integer contract
            np.testing.assert_array_equal(fw.spikes[l][0], lit[l])
        step(x[None], np.array([y]), lr=0.5, lr_f=0.01)
        for l in range(2):
            np.testing.assert_allclose(net.W[l], W[l], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(net.fact, fact, rtol=1e-9)


@pytest.mark.parametrize("widths", [(784, 600, 10), (784, 100, 50, 10)])
def test_decision_is_argmax_of_potentials_at_the_decision_step(mnist, widths):
    """The claim the decision rule rests on: class = argmax_k V_k(t*), t* = first crossing."""
    rng = np.random.default_rng(6)
    net = _net(rng, widths)
    s_in = encode_latency(mnist.test.images[:500])
    f = net.forward_times(s_in)
    t_star = decision_step(f.spikes[-1])
    a = (f.spikes[-2] <= t_star[:, None]).astype(np.float32)
    v = a @ net.binary()[-1].T.astype(np.float32)
    np.testing.assert_array_equal(v.argmax(axis=1), f.label)
    assert f.decision.tie.any() or f.decision.no_spike.any()


def test_threads_sum_the_same_gradients(mnist):
    x, y = mnist.train.images[:48], mnist.train.labels[:48].astype(np.int64)
    nets = []
    for threads in (1, 3):
        cfg = TrainConfig(theta=[20, 12], threads=threads).resolved()
        net = Net([784, 600, 10], cfg, np.random.default_rng(7))
        loss, acc = Trainer(net, cfg).step(x, y, lr=1e-2, lr_f=0.0)
        nets.append((net, loss, acc))
    (a, la, aa), (b, lb, ab) = nets
    assert la == pytest.approx(lb, rel=1e-5) and aa == ab
    for wa, wb in zip(a.W, b.W):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    assert a.thetas == [20, 12]


def test_bad_config():
    with pytest.raises(ValueError, match="rule"):
        TrainConfig(rule="hebb").resolved()
    with pytest.raises(ValueError, match="theta"):
        TrainConfig(theta=[20, 0]).resolved()
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=-1).resolved()
    with pytest.raises(ValueError, match="real"):
        TrainConfig(real=True, rule="bayes").resolved()


def test_command_line_is_built_from_the_config():
    from model.train import build_parser, cli_fields
    p = build_parser()
    a = p.parse_args([])
    assert TrainConfig(**{f.name: getattr(a, f.name) for f in cli_fields()}) == TrainConfig()
    assert {f.name for f in cli_fields()} == {f for f in vars(TrainConfig()) if f != "thr"}
    a = p.parse_args(["--rule", "bs4nn", "--hidden", "100", "50", "--init-hidden", "3", "2",
                      "--real", "--lr-f", "0.5", "--no-spike", "s4nn", "--theta", "9"])
    assert (a.rule, a.hidden, a.init_hidden, a.real, a.lr_f, a.no_spike, a.theta) == \
        ("bs4nn", [100, 50], [3.0, 2.0], True, 0.5, "s4nn", [9])
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--no-spike", "never"])
    assert exc.value.code == 2


def test_default_thresholds_follow_fan_in():
    from model.config import default_adam_lr, fan_in_thetas
    assert fan_in_thetas([784, 600, 10]) == [20, 40]            # the tuned network unchanged
    assert TrainConfig().resolved().theta == [20, 40]
    assert TrainConfig().resolved().lr == 5e-3
    small = TrainConfig(hidden=[64]).resolved()
    assert small.theta == [20, 9] and small.lr == pytest.approx(5e-3 * (600 / 64) ** 0.5)
    assert fan_in_thetas([784, 4, 10]) == [20, 1]                # never below 1
    assert TrainConfig(hidden=[64], theta=[20, 40]).resolved().theta == [20, 40]
    assert default_adam_lr([1000]) == 5e-3


def test_activity_warnings():
    from model.loop import activity_warnings
    quiet = {"mean_spikes": [100.0, 0.8], "no_spike": 10, "n": 100}
    assert activity_warnings(quiet, [784, 600, 10]) == []
    bad = {"mean_spikes": [590.0, 0.0], "no_spike": 100, "n": 100}
    lines = activity_warnings(bad, [784, 600, 10])
    assert len(lines) == 3
    assert "layer 0 (600 neurons) is saturated" in lines[0]
    assert "layer 1 (10 neurons) is silent" in lines[1]
    assert "100% of the validation images" in lines[2]


def test_epochs_follow_the_time_budget(data_dir):
    """Default epochs: 30 without a budget; with --max-minutes, epochs until it is spent."""
    assert TrainConfig().resolved().epochs == 30
    assert TrainConfig(max_minutes=1).resolved().epochs == 0
    assert TrainConfig(epochs=3, max_minutes=1).resolved().epochs == 3
    cfg = TrainConfig(hidden=[32], train_subset=300, val_size=100, max_minutes=0.05, threads=1)
    t0 = time.time()
    _, history = train(cfg, data_dir, None, progress=False, log=lambda s: None)
    assert len(history) > 1 and time.time() - t0 < 30
    assert 2.5 <= history[-1]["elapsed_s"] <= 10


def test_default_first_threshold_follows_input_activity():
    """theta_0 = 20 per 784 inputs at 150 input spikes per image, times sqrt(spikes / 150)."""
    from model.loop import activity_thetas
    rng = np.random.default_rng(0)

    def images(active):
        x = np.zeros((50, 784), np.uint8)
        for row in x:
            row[rng.choice(784, active, replace=False)] = 200
        return x
    cfg = TrainConfig().resolved()
    assert activity_thetas(cfg, images(150)).theta == [20, 40]
    assert activity_thetas(cfg, images(600)).theta == [40, 40]
    assert activity_thetas(cfg, images(390)).theta == [32, 40]        # Fashion-MNIST's mean
    conv = TrainConfig(arch="conv4k5,pool2,fc10").resolved()
    assert activity_thetas(conv, images(600)).theta == conv.theta      # conv: window share
