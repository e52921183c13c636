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
batch size 1). Conv layers: the same products over each kernel's connections, summed over
positions (model.kernels.conv_grad); a pooling window's error goes to its earliest input
(its argmin).
"""
from __future__ import annotations

import numpy as np

from contract.numerics import SILENT, T

from ..decision import decide
from ..kernels.conv_grad import conv_kernel_grad, conv_spread_back
from ..kernels.grad import grad_before, signed_mean
from ..pool import route, unpool
from ..realvalued import fixed_point
from .temporal_grad import normalise


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


def backward(W, s_in: np.ndarray, layers, y: np.ndarray, gamma: int, no_spike: str,
             arch=None):
    """Gradients (dW per weight layer, dfact per weight layer) and the batch loss
    (docs/numerics.md, "Training rules").

    W: the latent weights per weight layer; layers: the forward's LayerResults, one per
    layer of ``arch`` (model.arch layers; None: dense layers only).
    """
    o = layers[-1].spikes
    tgt = targets(o, y, gamma, no_spike)
    e_raw = (tgt - o.astype(np.int32)).astype(np.float32) / T
    loss = float((e_raw ** 2).sum(axis=1).sum())
    e = normalise(e_raw)
    L = len(W)
    kinds = [x.kind for x in arch] if arch else ["dense"] * L
    dWs, dfs = [None] * L, np.zeros(L)
    wl = L - 1
    for i in range(len(kinds) - 1, -1, -1):
        below = s_in if i == 0 else layers[i - 1].spikes               # (B, N_in)
        s_out = layers[i].spikes                                       # (B, N_out)
        if kinds[i] == "pool":
            if i == 0:
                break
            e = unpool(e, route(below, arch[i], lowest=True), arch[i].n_in)
            continue
        if kinds[i] == "conv":
            dW = conv_kernel_grad(below, s_out, e, arch[i])
            if i > 0:
                e = normalise(conv_spread_back(e, W[wl], arch[i], below, s_out))
        elif i == 0:
            dW = grad_before(below, s_out, e)
        else:
            H = (below[:, None, :] < s_out[:, :, None]).astype(np.float32)  # (B, N_out, N_in)
            eH = e[:, :, None] * H
            dW = eH.sum(axis=0)
            e = normalise(np.einsum("bji,ji->bi", eH, W[wl], optimize=True))
        dfs[wl] = signed_mean(W[wl], dW)
        dWs[wl] = dW
        wl -= 1
    return dWs, dfs, loss


def gradients(net, s_in: np.ndarray, y: np.ndarray, cfg, signs=None):
    """One batch slice: (dW per layer, dfact per layer, summed loss, correct decisions).
    ``signs``: ``net.signs()`` when the caller already has them."""
    layers = net.layers(s_in, signs)
    r = layers[-1]
    vc, vf = (fixed_point(r.v_cross), fixed_point(r.v_final)) if net.real else (r.v_cross, r.v_final)
    correct = int((decide(r.spikes, vc, vf).label == y).sum())
    dWs, dfs, loss = backward(net.W, s_in, layers, y, cfg.gamma, cfg.no_spike, net.arch)
    return dWs, dfs, loss, correct
