"""The early-decision term of the decision rule (``--early WEIGHT``, ``--early-step R``):
a target time for the label's output neuron (docs/numerics.md, "Training rules").

The core stops at the decision step t* (docs/numerics.md, "Early decisions"), so an image
costs the input events up to t*, all of them when no output fires. The term asks the
label's neuron y to have crossed by the reference step r = min(t*, R):

    L_early = weight * max(0, theta_out - V_y(r)) / tau

V_y(r) >= theta_out means that neuron crossed at some step <= r. On an image decided by
R (t* <= R) the reference is t* itself, the cross-entropy's own read step: the term is 0
when the label won, else it lifts the label at t* (one extra error on the same backward).
On a late image (t* > R, the no-spike fallback included) it lifts V_y(R): a second,
cheap backward of those images read at R (their hidden peaks are scanned up to R only).
Dividing by tau puts ``weight`` on the cross-entropy's scale (its error on V is at most
1 / tau per sample).

With ``--early-rivals`` the other output neurons k != y of an image decided by R also get
weight * max(0, V_k(t*) - theta_out + 1) / tau: a rival that crossed at t* (a tie, or a
wrong early winner) is pushed back below theta, so early decisions are won alone. On a
late image no neuron has crossed by R, so that part is 0 there. With ``--early-relative``
the rivals are measured against the label instead of theta:
weight * max(0, V_k(t*) - V_y(t*) + 1) / tau, the strict decision's own condition (the
label's potential above every other one at t*, so that "Ties" cannot pick another class).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np


def reference_step(t_star: np.ndarray, early_step: int) -> np.ndarray:
    """r = min(t*, R) per sample (int32)."""
    return np.minimum(t_star, early_step).astype(np.int32)


def hinge(v_label: np.ndarray, theta: float, weight: float, tau: float):
    """(summed loss, dL/dV_y per sample) of weight * max(0, theta - V_y) / tau."""
    gap = np.maximum(0.0, theta - v_label)
    loss = float(weight * gap.sum() / tau)
    return loss, np.where(gap > 0, -weight / tau, 0.0).astype(np.float32)


def rivals(v: np.ndarray, y: np.ndarray, theta: float, weight: float, tau: float):
    """(summed loss, dL/dV (B, N_out)) of weight * sum_{k != y} max(0, V_k - theta + 1) / tau:
    every other neuron at or above theta pushed below it."""
    over = np.maximum(0.0, v - (theta - 1))
    over[np.arange(len(y)), y] = 0.0
    loss = float(weight * over.sum() / tau)
    return loss, np.where(over > 0, weight / tau, 0.0).astype(np.float32)


def relative_rivals(v: np.ndarray, y: np.ndarray, weight: float, tau: float):
    """(summed loss, dL/dV (B, N_out)) of weight * sum_{k != y} max(0, V_k - V_y + 1) / tau:
    every other neuron pushed one unit below the label's potential, the label lifted once
    per such rival."""
    rows = np.arange(len(y))
    over = np.maximum(0.0, v - v[rows, y][:, None] + 1)
    over[rows, y] = 0.0
    loss = float(weight * over.sum() / tau)
    g = np.where(over > 0, weight / tau, 0.0).astype(np.float32)
    g[rows, y] = -g.sum(axis=1)
    return loss, g


def ramped(cfg, progress: float):
    """``cfg`` with the early weight at training progress 0..1 (``cfg`` itself without
    --early-warmup): weight * min(1, progress / warmup)."""
    if not cfg.early or not cfg.early_warmup:
        return cfg
    return replace(cfg, early=cfg.early * min(1.0, max(progress, 0.0) / cfg.early_warmup))
