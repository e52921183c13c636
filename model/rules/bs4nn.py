"""The BS4NN learning rule (Kheradpisheh, Mirsadeghi & Masquelier 2021; docs/numerics.md,
"Training rules"), mini-batched: target spike times, temporal straight-through backward,
learned threshold scale.

- output targets: t_min = min(o); target[y] = t_min, every other k with o_k < t_min + gamma
  gets min(t_min + gamma, T) (ties with the label are pushed out); if nothing fired either
  nothing is learnt (``no_spike="none"``, the authors' code) or the label's neuron is
  pulled to T - gamma (``no_spike="s4nn"``);
- e = (target - o) / T, normalised to unit L2 norm per sample;
- H[j, i] = [s_i < s_j]: dW = sum_b e_bj H_bji, e_below_i = sum_j W[j, i] e_j H[j, i]
  (real weights), normalised per sample;
- fact_l -= lr_f * sum_b mean_ji(e_bj H_bji sign W_ji), thr = 100 fixed.

The per-sample updates of a batch are summed (lr is a per-sample step, as with the authors'
batch size 1).
"""
from __future__ import annotations

import numpy as np

from contract.numerics import SILENT, T

from ..decision import decide
from ..realvalued import fixed_point
from .temporal_grad import grad_sparse_inputs, normalise


def targets(o: np.ndarray, y: np.ndarray, gamma: int, no_spike: str = "none") -> np.ndarray:
    """Target output times (B, K) from output times o (B, K) and labels y (B,)."""
    o = o.astype(np.int32)
    B = len(y)
    rows = np.arange(B)
    t_min = o.min(axis=1)                                            # (B,)
    push = np.minimum(t_min + gamma, T)[:, None]
    tgt = np.where(o < t_min[:, None] + gamma, push, o)
    tgt[rows, y] = t_min
    silent = t_min >= SILENT
    if silent.any():
        tgt[silent] = T
        if no_spike == "s4nn":
            tgt[rows[silent], y[silent]] = T - gamma
    return tgt


def backward(W, s_in: np.ndarray, layers, y: np.ndarray, gamma: int, no_spike: str):
    """Gradients (dW per layer, dfact per layer) and the batch loss (docs/numerics.md,
    "Training rules").

    W: the latent weights (N_out, N_in) per layer; layers: the forward's LayerResults.
    """
    o = layers[-1].spikes
    tgt = targets(o, y, gamma, no_spike)
    e_raw = (tgt - o.astype(np.int32)).astype(np.float32) / T
    loss = float((e_raw ** 2).sum(axis=1).sum())
    e = normalise(e_raw)
    L = len(W)
    dWs, dfs = [None] * L, np.zeros(L)
    for l in range(L - 1, -1, -1):
        below = s_in if l == 0 else layers[l - 1].spikes               # (B, N_in)
        s_out = layers[l].spikes                                       # (B, N_out)
        if l == 0:
            dW = grad_sparse_inputs(below, s_out, e)
        else:
            H = (below[:, None, :] < s_out[:, :, None]).astype(np.float32)  # (B, N_out, N_in)
            eH = e[:, :, None] * H
            dW = eH.sum(axis=0)
            e = normalise(np.einsum("bji,ji->bi", eH, W[l], optimize=True))
        sgn = np.where(W[l] >= 0, 1.0, -1.0).astype(np.float32)
        dfs[l] = float((sgn * dW).sum()) / dW.size
        dWs[l] = dW
    return dWs, dfs, loss


def gradients(net, s_in: np.ndarray, y: np.ndarray, cfg, signs=None):
    """One batch slice: (dW per layer, dfact per layer, summed loss, correct decisions).
    ``signs``: ``net.signs()`` when the caller already has them."""
    layers = net.layers(s_in, signs)
    r = layers[-1]
    vc, vf = (fixed_point(r.v_cross), fixed_point(r.v_final)) if net.real else (r.v_cross, r.v_final)
    correct = int((decide(r.spikes, vc, vf).label == y).sum())
    dWs, dfs, loss = backward(net.W, s_in, layers, y, cfg.gamma, cfg.no_spike)
    return dWs, dfs, loss, correct
