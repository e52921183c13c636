"""Confidence figures (docs/numerics.md, "Calibration and ensembles"): the decision-step
potentials, temperature-scaled softmax, ECE over 15 equal-width bins, NLL, Brier score,
the temperature fit, the ensemble vote, and the reliability diagram."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from contract.files import atomic_path
from contract.numerics import majority_vote  # noqa: F401  (the vote both sides use)

BINS = 15
T_RANGE = (1e-2, 1e4)           # temperatures searched, potential units
TINY = 1e-300                   # p_y floor in the NLL (a zero probability: about 690 nats)


def decision_potentials(s_in: np.ndarray, spikes: list[np.ndarray], step: np.ndarray,
                        w_out: np.ndarray) -> np.ndarray:
    """V(t*) (B, K): the output potentials at each image's decision step t* (255 when no
    output fired), V_k(t) = sum_i w_out[k, i] [s_i <= t], s the output layer's input spike
    times (the last hidden layer's, or the image's for a one-layer network)."""
    s = spikes[-2] if len(spikes) > 1 else s_in
    fired = (s <= np.asarray(step)[:, None]).astype(np.float32)
    return fired @ np.asarray(w_out, np.float32).reshape(len(w_out), -1).T


def softmax(v: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(v / temperature) along the last axis, float64."""
    z = np.asarray(v, np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def nll(p: np.ndarray, y: np.ndarray) -> float:
    """Mean -log p_y (natural log)."""
    return float(-np.log(np.maximum(p[np.arange(len(y)), y], TINY)).mean())


def brier(p: np.ndarray, y: np.ndarray) -> float:
    """Mean over images of sum_k (p_k - [k = y])^2 (0: perfect, 2: sure and wrong)."""
    q = np.array(p, np.float64)
    q[np.arange(len(y)), y] -= 1.0
    return float((q * q).sum(axis=1).mean())


def bin_index(conf: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Bin b holds confidences in (b / bins, (b + 1) / bins]; bin 0 also holds 0."""
    return np.clip(np.ceil(np.asarray(conf) * bins).astype(int) - 1, 0, bins - 1)


def reliability(conf: np.ndarray, correct: np.ndarray, bins: int = BINS):
    """Per bin: (count, accuracy, mean confidence); empty bins have accuracy and
    confidence NaN."""
    idx = bin_index(conf, bins)
    count = np.bincount(idx, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.bincount(idx, np.asarray(correct, float), bins) / count
        mean = np.bincount(idx, np.asarray(conf, float), bins) / count
    return count, acc, mean


def ece(conf: np.ndarray, correct: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: sum over bins of (share of images) x |accuracy - mean
    confidence|, equal-width bins on [0, 1]."""
    count, acc, mean = reliability(conf, correct, bins)
    full = count > 0
    return float((count[full] / count.sum() * np.abs(acc[full] - mean[full])).sum())


def fit_temperature(loss, lo: float = T_RANGE[0], hi: float = T_RANGE[1],
                    grid: int = 41, rounds: int = 40) -> float:
    """The temperature in [lo, hi] minimising ``loss(T)``: a log-spaced grid, then a
    golden-section search between the best grid point's neighbours (NLL is convex in 1 / T
    for one softmax, so the search finds its minimum)."""
    ts = np.geomspace(lo, hi, grid)
    k = int(np.argmin([loss(t) for t in ts]))
    a, b = math.log(ts[max(k - 1, 0)]), math.log(ts[min(k + 1, grid - 1)])
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = loss(math.exp(c)), loss(math.exp(d))
    for _ in range(rounds):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = loss(math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = loss(math.exp(d))
    return float(math.exp((a + b) / 2))


def figures(p: np.ndarray | None, decided: np.ndarray, conf: np.ndarray, y: np.ndarray,
            votes: np.ndarray | None = None) -> dict:
    """strict accuracy, ECE, NLL and Brier of one row of the report. ``p``: the probability
    vectors (None: vote shares ``votes`` / M, which have no NLL)."""
    correct = decided == y
    out = {"strict": float(correct.mean()), "ece": ece(conf, correct)}
    if p is not None:
        out.update(nll=nll(p, y), brier=brier(p, y))
    else:
        out.update(nll=None, brier=brier(votes / votes.sum(axis=1, keepdims=True), y))
    return out


def plot_reliability(rows: dict, path: str | Path, title: str = "") -> None:
    """Write ``path`` (PNG, atomically): one reliability diagram per row, ``rows`` mapping a
    name to (confidence, correct) arrays."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 4.2), squeeze=False)
    edges = np.linspace(0, 1, BINS + 1)
    for ax, (name, (conf, correct)) in zip(axes[0], rows.items()):
        count, acc, _ = reliability(conf, correct)
        ax.bar(edges[:-1], np.nan_to_num(acc), width=1 / BINS, align="edge",
               edgecolor="black", alpha=0.7, label="accuracy")
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(f"{name}\nECE {ece(conf, correct):.4f} (n = {count.sum()})", fontsize=9)
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
