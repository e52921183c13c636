"""The real-valued variant (``--real``) under the decision rule: the compiled float32
kernels against the NumPy slot scan, the real network with weights of +-1 against the
binary one (forward and gradients), the gradient against its definition and finite
differences, short dense and conv runs, and the refused combination."""
from __future__ import annotations

import numpy as np
import pytest

from contract.numerics import encode_latency
from model.arch import parse_arch
from model.checkpoint import load_checkpoint
from model.config import TrainConfig
from model.conv import conv_rows
from model.evaluate import evaluate_checkpoint
from model.kernels.real_conv import conv_forward_real, conv_peaks_real
from model.kernels.real_scan import forward_rows_real, peak_rows_real
from model.layer import layer_from_rows, padded_rows, peak_before, slot_scan
from model.loop import train
from model.rules import decision_ce
from model.trainable import Net


def real_net(layers, theta, rng, unit=False, **cfg):
    """A real (decision rule) net; ``unit``: every weight +-1 (the binary network)."""
    spec = {"arch": layers} if isinstance(layers, str) else {"hidden": list(layers[1:-1])}
    c = TrainConfig(real=True, theta=list(theta), **spec, **cfg).resolved()
    net = Net(c.layers(), c, rng)
    if unit:
        net.W = [np.where(w >= 0, 1.0, -1.0).astype(np.float32) for w in net.W]
    return net, c


def binary_twin(net, c):
    twin = Net(c.layers(), TrainConfig(**{**vars(c), "real": False}), np.random.default_rng(0))
    twin.W = [w.copy() for w in net.W]
    return twin


def same_peaks(got, want):
    np.testing.assert_array_equal(got[2], want[2])
    v = want[2]
    assert v.any()
    for g, w in zip(got[:2], want[:2]):
        np.testing.assert_array_equal(g[v], w[v])


def test_real_kernels_equal_numpy_slot_scan(mnist):
    rng = np.random.default_rng(21)
    s = encode_latency(mnist.test.images[:60])
    limit = rng.integers(-2, 256, len(s))
    rows = padded_rows(rng.uniform(-1, 1, (784, 50)).astype(np.float32))
    for th in (2.5, 6.3):
        a, b = forward_rows_real(s, rows, th), layer_from_rows(s, rows, th, strict=True)
        for f in ("spikes", "v_cross", "v_final"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        assert (a.spikes < 256).any() and (a.spikes == 256).any()
    same_peaks(peak_rows_real(s, rows, limit), peak_before(slot_scan(s, rows), limit))
    arch = parse_arch("conv3k5p1,pool2,conv4k3s2,fc10")
    for layer in (arch[0], arch[2]):
        k = rng.uniform(-1, 1, layer.weight_shape).astype(np.float32)
        x = s if layer is arch[0] else rng.integers(0, 257, (len(s), layer.n_in)).astype(np.int16)
        dense = conv_rows(k, layer, np.float32)
        a, b = conv_forward_real(x, k, layer, 1.3), layer_from_rows(x, dense, 1.3, strict=True)
        np.testing.assert_array_equal(a.spikes, b.spikes)
        np.testing.assert_array_equal(a.v_cross, b.v_cross)
        np.testing.assert_allclose(a.v_final, b.v_final, atol=1e-4)    # another sum order
        assert (a.spikes < 256).any() and (a.spikes == 256).any()
        same_peaks(conv_peaks_real(x, k, layer, limit), peak_before(slot_scan(x, dense), limit))


@pytest.mark.parametrize("layers, theta", [((784, 60, 10), [20, 6]),
                                           ("conv4k5,pool2,fc10", [3, 12])])
def test_real_net_with_unit_weights_is_the_binary_net(mnist, layers, theta):
    """All weights +-1: the real forward (V > theta - 1/2) is the integer one and the real
    gradients (which use the weights where the binary rule uses the signs) are the binary
    rule's."""
    net, c = real_net(layers, theta, np.random.default_rng(22), unit=True)
    twin = binary_twin(net, c)
    s = encode_latency(mnist.train.images[:48])
    y = mnist.train.labels[:48].astype(np.int64)
    a, b = net.forward_times(s), twin.forward_times(s)
    for x, z in zip(a.spikes, b.spikes):
        np.testing.assert_array_equal(x, z)
    np.testing.assert_array_equal(a.label, b.label)
    dr, _, loss_r, ok_r = decision_ce.gradients(net, s, y, c)
    db, _, loss_b, ok_b = decision_ce.gradients(twin, s, y, c)
    assert loss_r == pytest.approx(loss_b, rel=1e-6) and ok_r == ok_b
    for x, z in zip(dr, db):
        np.testing.assert_allclose(x, z, rtol=1e-5, atol=1e-6)
        assert np.abs(z).sum() > 0


def test_real_gradient_follows_its_definition(mnist):
    """784-40-10 with real weights: dW_out = g^T a (and central differences of the loss in
    W_out), dW_hidden = sum_b d_bj [s_i <= step_bj] with d = (g W_out) * surrogate(peak),
    the peaks those of the real potentials."""
    net, c = real_net((784, 40, 10), [12, 4], np.random.default_rng(23))
    s = encode_latency(mnist.train.images[:40])
    y = mnist.train.labels[:40].astype(np.int64)
    dW, _, loss, _ = decision_ce.gradients(net, s, y, c)
    hidden = net.forward_times(s).spikes[0]
    out = net.forward_times(s).spikes[1]
    t_star = decision_ce.decision_step(out)
    a = (hidden <= t_star[:, None]).astype(np.float64)
    v = a @ net.W[1].T.astype(np.float64)
    p = np.exp(v / c.tau - (v / c.tau).max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(40), y]).sum(), rel=1e-5)
    g = p.copy()
    g[np.arange(40), y] -= 1
    g /= c.tau
    np.testing.assert_allclose(dW[1], g.T @ a, rtol=1e-4, atol=1e-6)
    rows = padded_rows(np.ascontiguousarray(net.W[0].T))
    peak, step, valid = peak_before(slot_scan(s, rows), t_star - 1)
    d = np.where(valid, (g @ net.W[1]) * decision_ce.surrogate(peak, 12, c.surrogate), 0)
    want = np.einsum("bj,bji->ji", d, s[:, None, :] <= np.where(valid, step, -1)[:, :, None])
    assert np.abs(want).sum() > 0
    np.testing.assert_allclose(dW[0], want, rtol=1e-4, atol=1e-5)
    # Central differences on some output weights (t* and the hidden spikes do not move).
    eps = 1e-2
    for k, i in [(y[0], int(np.argmax(a[0]))), (3, 5), (7, int(np.argmax(a.sum(0))))]:
        losses = []
        for sign in (1, -1):
            net.W[1][k, i] += sign * eps
            losses.append(decision_ce.gradients(net, s, y, c)[2])
            net.W[1][k, i] -= sign * eps
        assert (losses[0] - losses[1]) / (2 * eps) == pytest.approx(dW[1][k, i], abs=2e-3)


@pytest.mark.parametrize("layers, theta, subset", [("", [20, 12], 1500),
                                                   ("conv4k5,pool2,fc10", [3, 15], 1000)])
def test_short_real_run_learns_and_evaluates(data_dir, tmp_path, layers, theta, subset):
    cfg = TrainConfig(real=True, arch=layers, hidden=[100], theta=theta, epochs=1,
                      train_subset=subset, val_size=500, seed=0)
    out = tmp_path / "real.npz"
    ck, hist = train(cfg, data_dir, out, progress=False, log=lambda s: None)
    assert hist[0]["val_strict"] > 0.3 and ck.meta["test"]["strict"] > 0.3    # chance 0.1
    back = load_checkpoint(out)
    assert back.meta["mode"] == "real" and back.meta["config"]["rule"] == "decision"
    # model.evaluate runs the real forward and reproduces the recorded test figure.
    figures = evaluate_checkpoint(out, data_dir)
    assert figures["mode"] == "real"
    assert figures["strict"] == pytest.approx(ck.meta["test"]["strict"], abs=1e-6)


def test_real_with_the_bayes_rule_is_refused(capsys):
    from model.train import main
    assert main(["--real", "--rule", "bayes", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--real" in err[0] and "bayes" in err[0]
