"""The event-driven conv kernels (model.kernels.conv, model.kernels.conv_grad) against the
dense path they replace (model.conv: the scan on ``conv_rows``, kernel_grad, spread_back):
spike times, potentials, peaks and steps equal, gradients to float tolerance; the decision
rule's gradients and the golden forward of a trained conv network unchanged."""
from __future__ import annotations

import numpy as np
import pytest

from contract.numerics import SILENT, encode_latency
from model import trainable
from model.arch import Layer, parse_arch
from model.config import TrainConfig
from model.conv import (conv_rows, kernel_grad, reference_forward, reference_peaks,
                        spread_back)
from model.decision import decide
from model.kernels.conv import conv_forward, conv_peaks
from model.kernels.conv_grad import conv_kernel_grad, conv_spread_back
from model.layer import layer_from_rows
from model.loop import train
from model.network import forward_times
from model.pool import pool_times
from model.rules import decision_ce
from model.trainable import Net

# (C_in, H, W), C_out, K, S, P: stride 1/2, padding 0/1/2, K 3/5, C_in 1 and > 1.
GEOMETRIES = [((1, 28, 28), 4, 5, 1, 0), ((1, 28, 28), 3, 3, 2, 1), ((1, 28, 28), 5, 5, 1, 2),
              ((3, 12, 12), 4, 3, 2, 2), ((4, 10, 9), 6, 5, 1, 0), ((2, 11, 11), 3, 5, 2, 2)]


def conv_layer(in_shape, c_out, k, s, p) -> Layer:
    c, h, w = in_shape
    return Layer("conv", in_shape, (c_out, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1),
                 k, s, p)


def kernels_for(layer, rng):
    return np.where(rng.random(layer.weight_shape) < 0.55, 1, -1).astype(np.int8)


def inputs_for(layer, rng, mnist, n=24):
    """Random times (all values, a few samples on 0/255/256 only, one all-silent) and, on
    a 1 x 28 x 28 map, MNIST images."""
    s = rng.integers(0, SILENT + 1, (n, layer.n_in)).astype(np.int16)
    s[:4] = rng.choice([0, 3, 255, 256], (4, layer.n_in))
    s[4] = SILENT
    s[5] = 255
    if layer.in_shape == (1, 28, 28):
        s = np.concatenate([s, encode_latency(mnist.test.images[:16])])
    return s


@pytest.mark.parametrize("geo", GEOMETRIES)
def test_forward_and_peaks_equal_the_dense_scan(geo, mnist):
    rng = np.random.default_rng(11)
    layer = conv_layer(*geo)
    kern = kernels_for(layer, rng)
    s = inputs_for(layer, rng, mnist)
    rows = conv_rows(kern, layer)
    for theta in (-3, 0, 1, 2, 4, 9, 2.5):
        want, got = layer_from_rows(s, rows, np.ceil(theta)), conv_forward(s, kern, layer, theta)
        for f in ("spikes", "v_cross", "v_final"):
            np.testing.assert_array_equal(getattr(got, f), getattr(want, f), err_msg=f)
            assert getattr(got, f).dtype == np.int16
    fired = (want.spikes < SILENT).mean()
    assert 0 < fired < 1                                    # not trivially silent or full
    for limit in (rng.integers(-1, 256, len(s)), np.full(len(s), 254), np.full(len(s), 20)):
        want, got = reference_peaks(s, kern, layer, limit), conv_peaks(s, kern, layer, limit)
        for w, g in zip(want, got):
            np.testing.assert_array_equal(g, w)
            assert g.dtype == w.dtype


@pytest.mark.parametrize("geo", GEOMETRIES)
def test_backward_equals_the_numpy_one(geo):
    rng = np.random.default_rng(12)
    layer = conv_layer(*geo)
    B = 9
    s = rng.integers(0, SILENT + 1, (B, layer.n_in)).astype(np.int16)
    bound = rng.integers(0, SILENT + 1, (B, layer.n_out)).astype(np.int16)
    d = (rng.standard_normal((B, layer.n_out)) * (rng.random((B, layer.n_out)) < 0.3)
         ).astype(np.float32)
    latent = rng.standard_normal(layer.weight_shape).astype(np.float32)
    tol = dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(conv_kernel_grad(s, bound, d, layer),
                               kernel_grad(s, bound, d, layer), **tol)
    for kern in (latent, kernels_for(layer, rng)):
        np.testing.assert_allclose(conv_spread_back(d, kern, layer),
                                   spread_back(d, kern, layer), **tol)
        np.testing.assert_allclose(conv_spread_back(d, kern, layer, s, bound),
                                   spread_back(d, kern, layer, s, bound), **tol)
    assert np.abs(conv_kernel_grad(s, bound, d, layer)).sum() > 0


def test_bad_inputs_are_refused():
    layer = conv_layer((1, 8, 8), 2, 3, 1, 0)
    kern = np.ones(layer.weight_shape, np.int8)
    with pytest.raises(ValueError, match="kernels of shape"):
        conv_forward(np.zeros((2, 64), np.int16), kern[:1], layer, 1)
    with pytest.raises(ValueError, match="given spike times"):
        conv_forward(np.zeros((2, 63), np.int16), kern, layer, 1)
    with pytest.raises(ValueError, match="spike times must be"):
        conv_peaks(np.full((2, 64), 300, np.int16), kern, layer, 3)


def test_decision_gradients_unchanged(mnist, monkeypatch):
    """The decision rule's gradients on a conv network: the event-driven kernels against
    the dense path (forward, peaks) and the NumPy backward."""
    cfg = TrainConfig(arch="conv4k3s2p1,pool2,conv6k3p1,fc10").resolved()
    net = Net(parse_arch(cfg.arch), cfg, np.random.default_rng(3))
    s_in, y = encode_latency(mnist.train.images[:32]), mnist.train.labels[:32]
    new = decision_ce.gradients(net, s_in, y, cfg)
    monkeypatch.setattr(trainable, "conv_forward", reference_forward)    # Net.fire's
    for name, old in [("conv_peaks", reference_peaks), ("conv_kernel_grad", kernel_grad),
                      ("conv_spread_back", spread_back)]:
        monkeypatch.setattr(decision_ce, name, old)
    ref = decision_ce.gradients(net, s_in, y, cfg)
    assert new[2:] == ref[2:]
    for g, r in zip(new[0], ref[0]):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)
    assert all(np.abs(g).sum() > 0 for g in new[0])


def golden_reference(s_in, ws, thetas, arch):
    """model.network.run_layers as it was: the NumPy scan on ``conv_rows``."""
    spikes, s, wl = [], s_in, 0
    for layer in arch:
        if layer.kind == "pool":
            spikes.append(pool_times(s, layer))
            s = spikes[-1]
            continue
        w = ws[wl] if layer.kind == "conv" else ws[wl].T
        rows = (conv_rows(w, layer) if layer.kind == "conv"
                else np.concatenate([w, np.zeros((1, w.shape[1]), w.dtype)]).astype(np.int16))
        r = layer_from_rows(s, rows, thetas[wl])
        spikes.append(r.spikes)
        s, wl = r.spikes, wl + 1
    return spikes, r, decide(r.spikes, r.v_cross, r.v_final)


def test_golden_forward_of_a_trained_conv_network_unchanged(data_dir, mnist):
    cfg = TrainConfig(arch="conv8k5,pool2,conv8k3p1,pool2,fc10", epochs=1, train_subset=2000,
                      val_size=500, threads=1)
    ck, _ = train(cfg, data_dir, None, progress=False, log=lambda s: None)
    ws, thetas, arch = ck.binary_weights, [int(t) for t in ck.thetas], ck.arch
    s_in = encode_latency(mnist.test.images[:600])
    got = forward_times(s_in, ws, thetas, arch)
    spikes, r, dec = golden_reference(s_in, ws, thetas, arch)
    for g, w in zip(got.spikes, spikes):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(got.v_cross, r.v_cross)
    np.testing.assert_array_equal(got.v_final, r.v_final)
    np.testing.assert_array_equal(got.label, dec.label)
    assert (got.label == mnist.test.labels[:600]).mean() > 0.3       # trained (chance: 0.1)
