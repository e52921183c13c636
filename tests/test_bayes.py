"""The bayes rule (model/rules/bayes.py): sampling, the update, a short run that learns,
the checkpoint's distribution, calibration of its ensemble, and export of sampled networks."""
from __future__ import annotations

import json

import numpy as np
import pytest

from contract.artifacts import load_artifacts
from contract.errors import UsageError
from contract.numerics import encode_latency
from export import weights as export_weights
from model import evaluate
from model.calibration import majority_vote
from model.checkpoint import binarize, load_checkpoint
from model.config import TrainConfig
from model.loop import Trainer, train
from model.network import forward, forward_times
from model.posterior import has_distribution, perturbed, sample_networks
from model.rules.bayes import Posterior, mean_gradient_scale
from model.trainable import Net


def test_samples_follow_the_distribution():
    """P(sign(lambda + delta) = +1) = sigmoid(2 lambda)."""
    lam = [np.repeat(np.array([-1.5, -0.3, 0.0, 0.5, 2.0], np.float32), 40000)]
    rng = np.random.default_rng(1)
    plus = (binarize(perturbed(lam, rng)[0]) > 0).reshape(5, -1).mean(axis=1)
    want = 1 / (1 + np.exp(-2 * np.array([-1.5, -0.3, 0.0, 0.5, 2.0])))
    np.testing.assert_allclose(plus, want, atol=0.01)


def test_gradient_scale():
    lam = np.array([0.0, 0.0, 20.0], np.float32)
    rho = np.array([0.0, 1.0, 20.0], np.float32)
    s = mean_gradient_scale(lam, rho, 1.0)
    assert s[0] == pytest.approx(1.0)
    assert s[1] == pytest.approx(1 - np.tanh(1.0) ** 2, rel=1e-5)
    assert s[2] == pytest.approx(1.0)           # both saturated: the 1e-10 guards decide
    assert mean_gradient_scale(lam[:1], rho[:1], 0.5)[0] == pytest.approx(2.0)


def small_posterior(momentum: float, n_train: int = 100):
    cfg = TrainConfig(rule="bayes", hidden=[3], theta=[1, 1], momentum=momentum, prior=0.25,
                      threads=1).resolved()
    net = Net([5, 3, 2], cfg, np.random.default_rng(0))
    return net, Posterior(net, cfg, np.random.default_rng(1), n_train)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_update_is_the_bayesian_learning_rule(momentum):
    """One step: lambda <- (1 - lr) lambda + lr (lambda_0 - N g_mu) (the first step of the
    bias-corrected running average is the plain step), g_mu the mean of the samples'."""
    net, post = small_posterior(momentum)
    rng = np.random.default_rng(2)
    before = [w.copy() for w in net.W]
    g_mu = [np.zeros_like(w) for w in net.W]
    for _ in range(2):                                  # two MC samples
        post.sample()
        dWs = [rng.normal(size=w.shape).astype(np.float32) for w in net.W]
        for l, (lam, rho, dW) in enumerate(zip(before, post.rho, dWs)):
            g_mu[l] += mean_gradient_scale(lam, rho, 1.0) * dW / 8 / 2
        post.accumulate(dWs, 8)
    post.update(0.01)
    for lam0, lam, g in zip(before, net.W, g_mu):
        np.testing.assert_allclose(lam, 0.99 * lam0 + 0.01 * (0.25 - 100 * g), rtol=1e-4,
                                   atol=1e-6)
    assert all((a == 0).all() for a in post.acc) and post.samples == 0


def test_samples_drive_the_forward_signs():
    """The trainer's forward runs on sign(lambda + delta), not on sign(lambda)."""
    net, post = small_posterior(0.9)
    signs = post.sample()
    np.testing.assert_array_equal(signs.wt_pad[0][:-1], binarize(post.rho[0]).T)


@pytest.fixture(scope="module")
def bayes_run(mnist, data_dir, tmp_path_factory):
    """784-100-10 on 6,000 images, 2 epochs, seed 0."""
    cfg = TrainConfig(rule="bayes", hidden=[100], train_subset=6000, epochs=2, val_size=1000,
                      threads=1, seed=0)
    out = tmp_path_factory.mktemp("bayes") / "bayes.npz"
    ck, hist = train(cfg, data_dir, out, progress=False, log=lambda s: None)
    return out, ck, hist


def test_short_bayes_run_learns_and_round_trips(mnist, bayes_run):
    out, ck, hist = bayes_run
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert max(h["val_strict"] for h in hist) > 0.6            # chance is 0.1
    assert ck.meta["test"]["strict"] > 0.6
    back = load_checkpoint(out)
    assert has_distribution(back) and back.meta["config"]["rule"] == "bayes"
    for lam, want, b in zip(back.latent, ck.latent, back.binary_weights):
        np.testing.assert_array_equal(lam, want)               # lambda itself is stored
        np.testing.assert_array_equal(b, np.where(lam >= 0, 1, -1))
    assert max(float(np.abs(lam).max()) for lam in back.latent) > 1.0   # lambda has moved
    # The stored test figure is the most probable network's under the golden model.
    f = forward_times(encode_latency(mnist.test.images), back.binary_weights, back.thetas)
    assert float((f.label == mnist.test.labels).mean()) == pytest.approx(
        back.meta["test"]["strict"], abs=1e-6)


def test_calibration_report_and_ensemble_vote(mnist, bayes_run, data_dir, capsys, tmp_path):
    out, ck, _ = bayes_run
    png = tmp_path / "rel.png"
    assert evaluate.main([str(out), "--calibration", "--samples", "3", "--seed", "4",
                          "--data-dir", str(data_dir), "--json", "--plot", str(png)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r["rows"]) == {"single", "ensemble-mean", "ensemble-vote"}
    assert r["rows"]["single"]["strict"] == pytest.approx(ck.meta["test"]["strict"], abs=1e-9)
    for row in r["rows"].values():
        assert 0 <= row["ece"] <= 1 and 0 <= row["brier"] <= 2
    assert r["rows"]["ensemble-vote"]["nll"] is None
    assert png.stat().st_size > 5000
    # The ensemble's strict accuracy is the majority vote (lowest class on a tie) of the
    # three networks sampled with seed 4.
    labels = [forward(mnist.test.images, w, ck.thetas).decision.label
              for w in sample_networks(ck, 3, 4)]
    voted, _ = majority_vote(np.array(labels), 10)
    assert r["rows"]["ensemble-vote"]["strict"] == pytest.approx(
        float((voted == mnist.test.labels).mean()), abs=1e-9)


def test_export_of_sampled_networks(bayes_run, data_dir, tmp_path, capsys):
    out, ck, _ = bayes_run
    art = tmp_path / "art"
    args = [str(out), "--out", str(art), "--samples", "2", "--seed", "3", "--vectors", "20",
            "--quiet", "--data-dir", str(data_dir)]
    assert export_weights.main(args) == 0
    for k in range(2):
        a = load_artifacts(art / f"sample{k}")
        m = json.loads((art / f"sample{k}" / "manifest.json").read_text())
        assert m["source"]["sample"] == {"index": k, "seed": 3}
        assert export_weights.main([str(out), "--check", str(art / f"sample{k}")]) == 0
        assert a.manifest["accuracy"]["count"] == 10000
    # --check above is bit for bit against sample k; the two samples' ROMs differ.
    assert (art / "sample0/layer0.bin").read_bytes() != (art / "sample1/layer0.bin").read_bytes()
    assert export_weights.main(args) == 0                       # unchanged, not refused
    assert "unchanged" in capsys.readouterr().out


def test_straight_through_checkpoint_has_no_ensemble(tmp_path):
    cfg = TrainConfig(rule="decision", hidden=[4], theta=[1, 1], threads=1).resolved()
    assert Trainer(Net([784, 4, 10], cfg, np.random.default_rng(0)), cfg).posterior is None


def test_bad_bayes_options():
    for bad in ({"momentum": 1.0}, {"gumbel_temperature": 0.0}, {"mc_samples": 0},
                {"prior": float("inf")}):
        with pytest.raises(UsageError):
            TrainConfig(rule="bayes", **bad).resolved()
    assert TrainConfig(rule="bayes").resolved().theta == [20, 40]
    # lr x N = 300: N = 60,000 - val_size, or --train-subset when smaller.
    assert TrainConfig(rule="bayes").resolved().lr == pytest.approx(300 / 55000)
    assert TrainConfig(rule="bayes", train_subset=6000).resolved().lr == pytest.approx(0.05)
    assert TrainConfig(rule="bayes", lr=0.2).resolved().lr == 0.2


def test_conv_network_trains_and_samples(mnist, data_dir, tmp_path):
    """The same rule on conv kernels; a sampled conv network's V(t*) gives its decision."""
    from model.calibration import decision_potentials
    cfg = TrainConfig(rule="bayes", arch="conv4k5,pool2,fc10", train_subset=2000, epochs=2,
                      val_size=500, threads=1, seed=0)
    ck, _ = train(cfg, data_dir, tmp_path / "conv.npz", progress=False, log=lambda s: None)
    assert ck.meta["test"]["strict"] > 0.5                    # chance is 0.1
    back = load_checkpoint(tmp_path / "conv.npz")
    (w0, w1), = sample_networks(back, 1, 0)
    assert w0.shape == (4, 1, 5, 5) and w1.shape == (10, 576)
    images = mnist.test.images[:300]
    f = forward(images, [w0, w1], back.thetas, arch=back.conv_arch)
    v = decision_potentials(encode_latency(images), f.spikes, f.decision.step, w1)
    np.testing.assert_array_equal(v.argmax(axis=1), f.decision.label)
