"""Confidence figures (model/calibration.py; docs/numerics.md, "Calibration and ensembles"):
hand-computed ECE / NLL / Brier, the temperature fit, the vote's ties, and V(t*)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from contract.numerics import encode_latency
from model.calibration import (bin_index, brier, decision_potentials, ece, figures,
                               fit_temperature, majority_vote, nll, plot_reliability, softmax)
from model.network import forward


def test_nll_and_brier_by_hand():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    y = np.array([0, 2])
    assert nll(p, y) == pytest.approx(-(math.log(0.7) + math.log(0.3)) / 2)
    # (0.3^2 + 0.2^2 + 0.1^2 + 0.1^2 + 0.6^2 + 0.7^2) / 2 = (0.14 + 0.86) / 2
    assert brier(p, y) == pytest.approx(0.5)
    assert brier(np.eye(3), np.arange(3)) == 0.0
    assert brier(np.eye(3), np.array([1, 2, 0])) == pytest.approx(2.0)


def test_ece_by_hand():
    # Bins of width 1/15: 0.61 and 0.65 share bin 9 ((0.600, 0.667]), accuracy 1/2, mean
    # confidence 0.63; 0.95 is alone in bin 14, 0.25 in bin 3.
    conf = np.array([0.61, 0.65, 0.95, 0.25])
    correct = np.array([True, False, True, False])
    assert list(bin_index(conf)) == [9, 9, 14, 3]
    assert ece(conf, correct) == pytest.approx(2 / 4 * 0.13 + 1 / 4 * 0.05 + 1 / 4 * 0.25)
    # Edges: a bin holds its upper edge; 0 goes to the first bin, 1 to the last.
    assert list(bin_index(np.array([0.0, 1 / 15, 0.5, 1.0]))) == [0, 0, 7, 14]
    assert ece(np.ones(4), np.ones(4, bool)) == 0.0


def test_softmax_temperature():
    v = np.array([[2.0, 0.0, 0.0]])
    p = softmax(v, 2.0)
    assert p[0, 0] == pytest.approx(math.e / (math.e + 2))
    np.testing.assert_allclose(softmax(v, 1e9), np.full((1, 3), 1 / 3), atol=1e-8)


def test_temperature_fit_recovers_a_known_temperature():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 4, (20000, 10))
    true_t = 2.5
    p = softmax(logits, true_t)
    y = (p.cumsum(axis=1) > rng.random((len(p), 1))).argmax(axis=1)      # y ~ p
    t = fit_temperature(lambda x: nll(softmax(logits, x), y))
    assert t == pytest.approx(true_t, rel=0.05)
    # The fit is the minimum of the loss it was given.
    assert nll(softmax(logits, t), y) <= min(nll(softmax(logits, t * f), y) for f in (0.9, 1.1))


def test_majority_vote_ties_go_to_the_lowest_class():
    members = np.array([[1, 2, 0, 4],
                        [1, 0, 0, 4],
                        [2, 0, 3, 4],
                        [2, 2, 3, 1]])
    decided, votes = majority_vote(members, 5)
    # image 0: 1 and 2 twice each -> 1; image 1: 0 and 2 twice -> 0; image 2: 0 and 3 -> 0;
    # image 3: 4 three times -> 4.
    assert list(decided) == [1, 0, 0, 4]
    assert list(votes[3]) == [0, 1, 0, 0, 3]
    assert (votes.sum(axis=1) == 4).all()


def test_vote_row_has_brier_but_no_nll():
    votes = np.array([[3, 1, 0], [0, 2, 2]])
    y = np.array([0, 2])
    decided = votes.argmax(axis=1)
    row = figures(None, decided, votes[np.arange(2), decided] / 4, y, votes)
    assert row["nll"] is None
    assert row["strict"] == 0.5
    # (0.25^2 + 0.25^2) and (0.5^2 + 0.5^2), halved
    assert row["brier"] == pytest.approx((0.125 + 0.5) / 2)


def test_decision_is_argmax_of_the_decision_step_potentials(mnist):
    """V(t*) from the last hidden layer's spikes: its argmax (lowest index on equal values)
    is the golden decision, and the winners' entries are their crossing potentials."""
    rng = np.random.default_rng(7)
    ws = [rng.choice(np.array([-1, 1], np.int8), (64, 784)),
          rng.choice(np.array([-1, 1], np.int8), (10, 64))]
    images = mnist.test.images[:400]
    fired = []
    for thetas in ([8, 3], [8, 40]):                   # outputs firing; never firing
        f = forward(images, ws, thetas, threads=1)
        fired.append(float((~f.decision.no_spike).mean()))
        v = decision_potentials(encode_latency(images), f.spikes, f.decision.step, ws[-1])
        np.testing.assert_array_equal(v.argmax(axis=1), f.decision.label)
        win = f.decision.winners
        np.testing.assert_array_equal(v[win], f.v_cross[win])
        nospike = f.decision.no_spike
        np.testing.assert_array_equal(v[nospike], f.v_final[nospike])
    assert fired[0] > 0.5 and fired[1] == 0.0


def test_reliability_plot_is_written(tmp_path):
    rng = np.random.default_rng(0)
    conf = rng.random(200)
    out = tmp_path / "rel.png"
    plot_reliability({"a": (conf, conf > 0.5), "b": (conf, conf > 0.2)}, out, title="t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
