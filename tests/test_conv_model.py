"""Convolutional networks in the model: the SPEC parser, the integer conv and pool layers
against literal loops (docs/numerics.md, "Convolution", "Pooling"), both rules' backward
through conv and pool, the real-valued variant, checkpoints and a short training run."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from contract.numerics import SILENT, T, encode_latency
from contract.network import NetworkError
from model.arch import dense_arch, parse_arch, spec_of, widths_of
from model.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from model.config import TrainConfig
from model.loop import Trainer, train
from model.network import forward_times
from model.pool import pool_times
from model.realvalued import real_forward_times
from model.rules import bs4nn, decision_ce
from model.trainable import Net


def literal_conv(s_in: np.ndarray, kernels: np.ndarray, theta: int, layer) -> np.ndarray:
    """One sample, time-stepped: V(t) summed over the kernel at every position, padding 0."""
    c_in, h, w = layer.in_shape
    c_out, ho, wo = layer.out_shape
    k, st, p = layer.kernel, layer.stride, layer.pad
    pad = np.full((c_in, h + 2 * p, w + 2 * p), SILENT, np.int64)
    pad[:, p:p + h, p:p + w] = s_in.reshape(c_in, h, w)
    out = np.full((c_out, ho, wo), SILENT, np.int64)
    for t in range(T):
        fired = (pad <= t).astype(np.int64)
        v = np.zeros((c_out, ho, wo), np.int64)
        for ky in range(k):
            for kx in range(k):
                win = fired[:, ky:ky + st * ho:st, kx:kx + st * wo:st]          # (c_in, ho, wo)
                v += np.einsum("oc,cyx->oyx", kernels[:, :, ky, kx], win)
        out = np.where((out == SILENT) & (v >= theta), t + 1, out)
    return out.reshape(-1)


def literal_pool(s: np.ndarray, layer) -> np.ndarray:
    c, h, w = layer.in_shape
    k = layer.kernel
    ho, wo = h // k, w // k
    m = s.reshape(len(s), c, h, w)[:, :, :ho * k, :wo * k]
    return m.reshape(len(s), c, ho, k, wo, k).min(axis=(3, 5)).reshape(len(s), -1)


def random_weights(arch, rng):
    return [np.where(rng.random(x.weight_shape) < 0.55, 1, -1).astype(np.int8)
            for x in arch if x.has_weights]


def test_parse_arch_shapes_and_errors():
    arch = parse_arch("conv16k5,pool2,conv32k5,pool2,fc10")
    assert widths_of(arch) == [784, 16 * 24 * 24, 16 * 12 * 12, 32 * 8 * 8, 32 * 4 * 4, 10]
    assert [x.fan_in for x in arch if x.has_weights] == [25, 400, 512]
    assert spec_of(arch) == "conv16k5,pool2,conv32k5,pool2,fc10"
    a = parse_arch("conv6k3s2p1,pool3,fc10")
    assert a[0].out_shape == (6, 14, 14) and a[1].out_shape == (6, 4, 4)
    for bad, words in [("conv4k5,pool2", "must be dense"), ("fc20,pool2,fc10", "after a dense"),
                       ("conv4x5,fc10", "'conv4x5'"), ("conv2k30,fc10", "empty map"),
                       ("conv2k3p3,fc10", "P < K")]:
        with pytest.raises(NetworkError, match=words):
            parse_arch(bad)


@pytest.mark.parametrize("spec", ["conv3k5,pool2,fc10", "conv4k3s2p1,pool2,conv5k3p2,fc10"])
def test_conv_and_pool_match_literal_loops(mnist, spec):
    arch = parse_arch(spec)
    rng = np.random.default_rng(7)
    ws = random_weights(arch, rng)
    thetas = [2, 3, 4][:len(ws)]
    images = np.concatenate([mnist.test.images[:6], np.full((1, 784), 255, np.uint8)])
    s_in = encode_latency(images)
    f = forward_times(s_in, ws, thetas, arch)
    s, wl = s_in, 0
    for l, layer in enumerate(arch[:-1]):
        if layer.kind == "pool":
            want = literal_pool(s, layer)
        else:
            want = np.stack([literal_conv(x, ws[wl], thetas[wl], layer) for x in s])
            wl += 1
        np.testing.assert_array_equal(f.spikes[l], want, err_msg=f"layer {l} ({layer.kind})")
        s = want
    assert (f.spikes[0] < SILENT).any() and (f.spikes[0] == SILENT).any()


def _same_net_two_ways(rule: str, seed: int = 3):
    """conv12k28 on 28 x 28 is a dense layer of 12 neurons: the same latent weights as a
    conv net (with an identity pool1) and as a dense net."""
    cfg = TrainConfig(rule=rule, theta=[6, 3]).resolved() if rule == "decision" else \
        TrainConfig(rule=rule).resolved()
    rng = np.random.default_rng(seed)
    conv = Net(parse_arch("conv12k28,pool1,fc10"), cfg, rng)
    dense = Net(dense_arch([784, 12, 10]), cfg, rng)
    conv.W = [rng.normal(0.2, 1.0, w.shape).astype(np.float32) for w in conv.W]
    dense.W = [conv.W[0].reshape(12, 784), conv.W[1].copy()]
    if rule == "bs4nn":
        conv.fact, dense.fact = np.array([4.0, 40.0]), np.array([4.0, 40.0])
    return cfg, conv, dense


@pytest.mark.parametrize("rule", ["decision", "bs4nn"])
def test_conv_backward_equals_dense_backward(mnist, rule):
    cfg, conv, dense = _same_net_two_ways(rule)
    s_in = encode_latency(mnist.train.images[:64])
    y = mnist.train.labels[:64].astype(np.int64)
    fc, fd = conv.forward_times(s_in), dense.forward_times(s_in)
    np.testing.assert_array_equal(fc.spikes[0].reshape(64, -1), fd.spikes[0])
    np.testing.assert_array_equal(fc.label, fd.label)
    mod = decision_ce if rule == "decision" else bs4nn
    gc, dfc, lc, cc = mod.gradients(conv, s_in, y, cfg)
    gd, dfd, ld, cd = mod.gradients(dense, s_in, y, cfg)
    assert (lc, cc) == (ld, cd)
    np.testing.assert_allclose(gc[0].reshape(12, 784), gd[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gc[1], gd[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dfc, dfd, rtol=1e-5, atol=1e-9)
    assert np.abs(gd[0]).sum() > 0


def test_pool_routes_to_highest_peak_and_earliest_spike():
    from model.pool import route, unpool, windows
    layer = parse_arch("pool2,fc10", in_shape=(1, 4, 4))[0]
    score = np.arange(16, dtype=np.float32)[None, ::-1].copy()        # highest at the top left
    chosen = route(score, layer)
    np.testing.assert_array_equal(chosen[0], windows(layer)[:, 0])
    np.testing.assert_array_equal(route(score, layer, lowest=True)[0], windows(layer)[:, 3])
    back = unpool(np.ones((1, 4), np.float32), chosen, 16)
    assert back.sum() == 4 and (back[0, windows(layer)[:, 0]] == 1).all()


def test_real_conv_with_binary_kernels_matches_integer(mnist):
    arch = parse_arch("conv4k5,pool2,fc10")
    ws = random_weights(arch, np.random.default_rng(9))
    s_in = encode_latency(mnist.test.images[:50])
    a = forward_times(s_in, ws, [3, 12], arch)
    b = real_forward_times(s_in, [w.astype(np.float32) for w in ws], [2.5, 11.5], arch)
    for x, y in zip(a.spikes, b.spikes):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.label, b.label)


def test_checkpoint_round_trip_and_bad_layers(tmp_path):
    arch = parse_arch("conv4k5,pool2,fc10")
    cfg = TrainConfig(arch="conv4k5,pool2,fc10").resolved()
    net = Net(arch, cfg, np.random.default_rng(0))
    meta = {"mode": "binary", "theta": net.thetas, "dataset": "mnist",
            "layers": [x.to_dict() for x in arch], "arch": spec_of(arch)}
    Checkpoint(net.W, net.fact, dict(meta)).save(tmp_path / "c.npz")
    ck = load_checkpoint(tmp_path / "c.npz")
    assert ck.arch == arch and ck.widths == widths_of(arch)
    assert ck.latent[0].shape == (4, 1, 5, 5)
    def spoiled(name, **change):
        with np.load(tmp_path / "c.npz") as z:
            arrays = {k: z[k] for k in z.files}
        m = dict(json.loads(arrays["meta"].tobytes()), **change)
        arrays["meta"] = np.frombuffer(json.dumps(m).encode(), np.uint8)
        np.savez(tmp_path / name, **arrays)
        return tmp_path / name

    lstm = [dict(meta["layers"][0], kind="lstm")] + meta["layers"][1:]
    with pytest.raises(CheckpointError, match="unknown layer kind 'lstm'"):
        load_checkpoint(spoiled("bad.npz", layers=lstm))
    with pytest.raises(CheckpointError, match=r"theta\[0\] = 26 must be in 1..25"):
        load_checkpoint(spoiled("big.npz", theta=[26, 3]))


def test_bs4nn_real_conv_step_trains(mnist):
    cfg = TrainConfig(arch="conv4k5,pool2,fc10", rule="bs4nn", real=True, threads=2).resolved()
    net = Net(cfg.layers(), cfg, np.random.default_rng(1))
    before = [w.copy() for w in net.W]
    tr = Trainer(net, cfg)
    try:
        loss, acc = tr.step(mnist.train.images[:64], mnist.train.labels[:64].astype(np.int64),
                            cfg.lr, cfg.lr_f)
    finally:
        tr.close()
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert all(not np.array_equal(a, b) for a, b in zip(before, net.W))


def test_short_conv_training(data_dir, tmp_path):
    cfg = TrainConfig(arch="conv4k5,pool2,fc10", epochs=1, train_subset=2000, val_size=1000,
                      threads=2)
    t0 = time.time()
    ck, hist = train(cfg, data_dir, tmp_path / "conv.npz", progress=False, log=lambda s: None)
    seconds = time.time() - t0
    assert seconds < 60, f"short conv training took {seconds:.0f} s"
    back = load_checkpoint(tmp_path / "conv.npz")
    assert back.meta["arch"] == "conv4k5,pool2,fc10" and back.arch == ck.arch
    assert len(back.meta["test"]["mean_spikes"]) == 3
    assert hist[0]["val_strict"] > 0.2 and ck.meta["test"]["strict"] > 0.2


def test_train_cli_rejects_bad_arch(capsys):
    from model.train import main
    assert main(["--arch", "conv4k5,pool2,fc7", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--arch" in err[0] and "fc10" in err[0]


def test_decision_rule_reads_pooled_activation_as_window_peak(mnist):
    """Under the decision rule a pooled input of the output layer fired by t* exactly when
    the highest peak (before t*) of its window reached theta: the input the error is routed
    to decides the activation."""
    cfg = TrainConfig(arch="conv4k5,pool2,fc10", theta=[3, 12]).resolved()
    net = Net(cfg.layers(), cfg, np.random.default_rng(4))
    s_in = encode_latency(mnist.train.images[:40])
    signs = net.signs()
    spikes, scans = decision_ce.forward_scans(net, s_in, signs)
    t_star = decision_ce.decision_step(spikes[-1])
    peaks, chosen = decision_ce.hidden_peaks(net, scans, t_star)
    peak, _, valid = peaks[0]
    routed = np.take_along_axis(np.where(valid, peak, -np.inf), chosen[1], axis=1)
    fired = spikes[1] <= t_star[:, None]
    np.testing.assert_array_equal(fired, routed >= net.thetas[0])
    assert fired.any() and (~fired).any()
