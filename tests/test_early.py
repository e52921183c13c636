"""The early-decision term of the decision rule (``--early``, model/rules/early.py): its
gradient is the hinge's, by hand; weight 0 is today's rule; a short run with it decides
earlier and leaves fewer images to the no-spike fallback."""
from __future__ import annotations

import numpy as np
import pytest

from contract.errors import UsageError
from contract.numerics import LAST_STEP, encode_latency
from model.config import TrainConfig
from model.loop import train
from model.network import forward
from model.rules import decision_ce, early
from model.rules.decision_ce import decision_step, surrogate
from model.trainable import Net

THETAS = [10, 6]


def _setup(mnist, early: float, early_step: int, n=64):
    cfg = TrainConfig(hidden=[20], theta=THETAS, early=early, early_step=early_step,
                      threads=1).resolved()
    rng = np.random.default_rng(11)
    net = Net([784, 20, 10], cfg, rng)
    net.W = [rng.normal(0.1, 1.0, w.shape).astype(np.float32) for w in net.W]
    s_in = encode_latency(mnist.train.images[:n])
    return cfg, net, s_in, mnist.train.labels[:n].astype(np.int64)


def _hand_term(net, s_in, y, cfg):
    """The term's gradient from its definition, one sample and one step at a time:
    L = w max(0, theta - V_y(r)) / tau, r = min(t*, R), with --early-rivals plus
    w max(0, V_k(t*) - theta + 1) / tau for k != y on images decided by R (with
    --early-relative w max(0, V_k(t*) - V_y(t*) + 1) / tau instead); hidden neurons through the surrogate at
    their peak potential over the steps with events up to r - 1."""
    w_hid, w_out = (np.where(w >= 0, 1, -1).astype(np.float64) for w in net.W)
    theta, unit = net.thetas[-1], cfg.early / cfg.tau
    f = net.forward_times(s_in)
    t_star = decision_step(f.spikes[-1])
    dW = [np.zeros_like(w_hid), np.zeros_like(w_out)]
    loss, rows = 0.0, 0
    for b in range(len(y)):
        r = min(int(t_star[b]), cfg.early_step)
        a = (f.spikes[0][b] <= r).astype(np.float64)
        v = w_out @ a
        dv = np.zeros(len(v))
        if v[y[b]] < theta:
            loss += unit * (theta - v[y[b]])
            dv[y[b]] = -unit
        for k in range(len(v)):
            if not cfg.early_rivals or k == y[b] or r < t_star[b]:
                continue
            if cfg.early_relative and v[k] >= v[y[b]]:                # one unit below V_y
                loss += unit * (v[k] - v[y[b]] + 1)
                dv[k] += unit
                dv[y[b]] -= unit
            elif not cfg.early_relative and v[k] >= theta:
                loss += unit * (v[k] - theta + 1)
                dv[k] += unit
        if not dv.any():
            continue
        rows += 1
        dW[1] += dv[:, None] * a[None, :]
        times = s_in[b].astype(np.int64)
        steps = [t for t in range(r) if (times == t).any()]         # steps with events <= r-1
        if not steps:
            continue
        vh = np.array([w_hid @ (times <= t) for t in steps])         # (steps, hidden)
        peak_at = vh.argmax(axis=0)                                  # earliest on equal V
        peak = vh[peak_at, np.arange(vh.shape[1])]
        d = (dv @ w_out) * surrogate(peak, net.thetas[0], cfg.surrogate)
        step = np.array(steps)[peak_at]
        dW[0] += d[:, None] * (times[None, :] <= step[:, None])
    return dW, loss, rows


@pytest.mark.parametrize("early_step, rivals, relative", [
    (2, False, False), (6, False, False), (40, False, False), (6, True, False),
    (40, True, False), (6, True, True), (40, True, True)])
def test_term_gradient_is_the_hinge_by_hand(mnist, early_step, rivals, relative):
    cfg0, net, s_in, y = _setup(mnist, 0.0, early_step)
    cfg = TrainConfig(**{**vars(cfg0), "early": 1.5, "early_rivals": rivals,
                         "early_relative": relative})
    d0, _, loss0, c0 = decision_ce.gradients(net, s_in, y, cfg0)
    d1, _, loss1, c1 = decision_ce.gradients(net, s_in, y, cfg)
    hand, hand_loss, rows = _hand_term(net, s_in, y, cfg)
    assert rows > 5                              # the hinge is active on several images
    if rivals:                                   # and the rivals' part on some of them
        plain = TrainConfig(**{**vars(cfg), "early_rivals": False, "early_relative": False})
        assert hand_loss > _hand_term(net, s_in, y, plain)[1]
    assert c1 == c0 and loss1 - loss0 == pytest.approx(hand_loss, rel=1e-5)
    for a, b, h in zip(d1, d0, hand):
        assert np.abs(h).sum() > 0
        np.testing.assert_allclose(a - b, h, rtol=1e-4, atol=1e-4)


def test_late_and_decided_images_both_occur(mnist):
    """The hand check above covers both branches: images decided by R and late ones."""
    _, net, s_in, _ = _setup(mnist, 0.0, 6)
    t_star = decision_step(net.forward_times(s_in).spikes[-1])
    assert (t_star <= 6).any() and (t_star > 6).any() and (t_star == LAST_STEP).any()


def test_weight_zero_is_the_plain_rule(mnist):
    cfg, net, s_in, y = _setup(mnist, 0.0, 3)
    other = TrainConfig(**{**vars(cfg), "early_step": 200})
    a, b = decision_ce.gradients(net, s_in, y, cfg), decision_ce.gradients(net, s_in, y, other)
    assert a[2] == b[2] and a[3] == b[3]
    for x, z in zip(a[0], b[0]):
        np.testing.assert_array_equal(x, z)


def test_bad_early_options():
    with pytest.raises(UsageError, match="--early -1"):
        TrainConfig(early=-1.0).resolved()
    with pytest.raises(UsageError, match="--early-step 255"):
        TrainConfig(early_step=255).resolved()
    with pytest.raises(ValueError, match="decision rule"):
        TrainConfig(early=1.0, rule="bs4nn").resolved()
    with pytest.raises(ValueError, match="--early-relative needs --early-rivals"):
        TrainConfig(early=1.0, early_relative=True).resolved()


def _decisions(ck, images):
    f = forward(images, ck.binary_weights, ck.thetas, threads=1)
    d = f.decision
    return d.no_spike.mean(), d.step.mean()


def test_short_run_decides_earlier(mnist, data_dir):
    """784-100-10, 6,000 images, 2 epochs, same seed: the term cuts the no-spike share and
    the mean decision step on held-out images."""
    out = {}
    for w in (0.0, 2.0):
        cfg = TrainConfig(hidden=[100], epochs=2, train_subset=6000, val_size=1000,
                          threads=1, seed=3, early=w, early_step=10)
        ck, _ = train(cfg, data_dir, progress=False, log=lambda s: None)
        out[w] = _decisions(ck, mnist.val.images[:1000])
    (ns0, st0), (ns1, st1) = out[0.0], out[2.0]
    assert ns1 < 0.5 * ns0 and st1 < 0.6 * st0, out


def test_term_through_conv_and_pool_equals_dense(mnist):
    """conv12k28,pool1,fc10 is 784-12-10: the term's late pass reads conv and pool layers as
    the dense ones."""
    from tests.test_conv_model import _same_net_two_ways
    cfg0, conv, dense = _same_net_two_ways("decision")
    cfg = TrainConfig(**{**vars(cfg0), "early": 1.0, "early_step": 2})
    s_in = encode_latency(mnist.train.images[:64])
    y = mnist.train.labels[:64].astype(np.int64)
    t_star = decision_step(dense.forward_times(s_in).spikes[-1])
    assert (t_star > 2).any() and (t_star <= 2).any()
    gc, _, lc, cc = decision_ce.gradients(conv, s_in, y, cfg)
    gd, _, ld, cd = decision_ce.gradients(dense, s_in, y, cfg)
    g0 = decision_ce.gradients(dense, s_in, y, cfg0)[0]
    assert cc == cd and lc == pytest.approx(ld, rel=1e-6)
    np.testing.assert_allclose(gc[0].reshape(12, 784), gd[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gc[1], gd[1], rtol=1e-5, atol=1e-6)
    assert np.abs(gd[0] - g0[0]).sum() > 0


def test_warmup_ramps_the_weight(mnist):
    """--early-warmup 0.5: weight 0 at the start (the plain rule, bit for bit), half at a
    quarter of the run, the full weight from half-way on; no warmup: the config itself."""
    cfg0, net, s_in, y = _setup(mnist, 0.0, 6)
    cfg = TrainConfig(**{**vars(cfg0), "early": 2.0, "early_warmup": 0.5})
    assert early.ramped(cfg0, 0.3) is cfg0
    plain = TrainConfig(**{**vars(cfg), "early_warmup": 0.0})
    assert early.ramped(plain, 0.1) is plain
    assert [early.ramped(cfg, p).early for p in (0.0, 0.25, 0.5, 0.9)] == [0.0, 1.0, 2.0, 2.0]
    a, b = (decision_ce.gradients(net, s_in, y, c) for c in (early.ramped(cfg, 0.0), cfg0))
    assert a[2] == b[2] and a[3] == b[3]
    for x, z in zip(a[0], b[0]):
        np.testing.assert_array_equal(x, z)
    with pytest.raises(UsageError, match="--early-warmup 1.5"):
        TrainConfig(early=1.0, early_warmup=1.5).resolved()
