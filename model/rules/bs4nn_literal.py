"""A literal, per-sample implementation of the BS4NN rule (docs/numerics.md, "Training
rules"), as the authors' notebook runs it: dense time-stepping forward (every step, every
input), batch size 1, the full H matrices in the backward. Slow on purpose: it is the
yardstick for the vectorised rule (model.rules.bs4nn), which must compute the same update.
"""
from __future__ import annotations

import numpy as np

from contract.numerics import SILENT, T


def literal_forward(s_in: np.ndarray, W, fact, thr: float = 100.0):
    """One sample: input times (N0,) -> list of spike times per layer, time-stepped."""
    spikes, s = [], np.asarray(s_in)
    for w, f in zip(W, fact):
        wb = np.where(w >= 0, 1.0, -1.0).astype(np.float32)
        V = np.zeros(w.shape[0], np.float32)
        out = np.full(w.shape[0], SILENT, np.int64)
        for t in range(T):
            V += wb @ (s == t).astype(np.float32)
            fire = (V > thr / f) & (out == SILENT)
            out[fire] = t + 1
        spikes.append(out)
        s = out
    return spikes


def literal_step(W, fact, x: np.ndarray, y: int, lr: float, lr_f: float, gamma: int = 1,
                 no_spike: str = "none", thr: float = 100.0):
    """One SGD step on one image x (N0,) uint8 with label y; updates W and fact in place."""
    s_in = 255 - x.astype(np.int64)
    spikes = literal_forward(s_in, W, fact, thr)
    o = spikes[-1]
    t_min = o.min()
    tgt = o.copy()
    if t_min < SILENT:
        for k in range(len(o)):
            if o[k] < t_min + gamma:
                tgt[k] = min(t_min + gamma, T)
        tgt[y] = t_min
    else:
        tgt[:] = T
        if no_spike == "s4nn":
            tgt[y] = T - gamma
    e = (tgt - o) / T
    if np.linalg.norm(e) > 0:
        e = e / np.linalg.norm(e)
    ins = [s_in] + spikes[:-1]
    for l in range(len(W) - 1, -1, -1):
        H = (ins[l][None, :] < spikes[l][:, None]).astype(np.float64)
        eH = e[:, None] * H
        sgn = np.where(W[l] >= 0, 1.0, -1.0)
        df = float((eH * sgn).mean())
        e_below = (W[l] * eH).sum(axis=0)
        W[l] -= (lr * eH).astype(W[l].dtype)
        fact[l] = max(fact[l] - lr_f * df, 1e-3)
        n = np.linalg.norm(e_below)
        e = e_below / n if n > 0 else e_below
    return spikes
