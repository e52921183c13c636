"""The decision-step cross-entropy rule (``--rule decision``): train the network the
hardware runs as the classifier it is.

Under the integer contract the decided class is always ``argmax_k V_k(t*)`` (lowest index
on equal values), where t* is the first step at which an output neuron crosses, or 255
when none does: nobody crossed before t*, so every neuron that crossed at t* has a higher
potential than every one that did not, and the tie rule is that argmax (docs/numerics.md,
"Decision" and "Ties").
So the loss is the cross-entropy of softmax(V(t*) / tau) against the label, and the network
below t* is a binary network whose activations are "fired by then":

    V_k(t*) = sum_j b_kj a_j,   a_j = [h_j <= t*] = [max_{u <= t*-1} V_j(u) >= theta]

(deeper nets: layer l is read at t* - (L - 2 - l)). The backward is the usual binary-network
one: straight through the sign of the latent weights, and through each hidden neuron's
"fired by then" with a triangular surrogate derivative of half-width ``cfg.surrogate``
around its threshold, taken at its peak potential M_j; dM_j / dW_ji = [s_i <= step of the
peak]. t* itself is treated as a constant. The forward is exactly the golden model's.
"""
from __future__ import annotations

import numpy as np

from contract.numerics import SILENT, T

from ..layer import crossings, peak_before, slot_scan
from .temporal_grad import grad_sparse_inputs


def decision_step(out_spikes: np.ndarray) -> np.ndarray:
    """t*: the first output crossing step (spike time - 1), 255 when no output fired."""
    first = out_spikes.min(axis=1).astype(np.int32)
    return np.where(first < SILENT, first - 1, T - 1)


def surrogate(m: np.ndarray, theta: int, width: float) -> np.ndarray:
    """d[m >= theta]/dm: a triangle of half-width ``width`` centred on theta - 1/2."""
    return np.maximum(0.0, 1.0 - np.abs(m - (theta - 0.5)) / width) / width


def gradients(net, s_in: np.ndarray, y: np.ndarray, cfg, signs=None):
    """One batch slice: (dW per layer, dfact (zeros: thresholds are fixed), summed loss,
    correct decisions). ``signs``: ``net.signs()`` when the caller already has them."""
    signs = signs or net.signs()
    thetas = net.thetas
    L = len(signs.wb)
    scans, spikes, s = [], [], s_in
    for l in range(L):
        sc = slot_scan(s, signs.wt_pad[l])
        spk, _ = crossings(sc, thetas[l])
        scans.append(sc)
        spikes.append(spk)
        s = spk
    t_star = decision_step(spikes[-1])                               # (B,)
    below = spikes[-2] if L > 1 else s_in
    a = (below <= t_star[:, None]).astype(np.float32)                # (B, N_{L-1})
    v = a @ signs.wf[-1].T                                           # V(t*) (B, N_out)
    z = v / cfg.tau
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(-np.log(p[rows, y] + 1e-12).sum())
    correct = int((v.argmax(axis=1) == y).sum())
    g = p.copy()
    g[rows, y] -= 1.0
    g /= cfg.tau                                                     # dL/dV(t*)
    dWs = [None] * L
    dWs[-1] = g.T @ a
    delta = g @ signs.wf[-1]                                         # dL/da, layer L-2
    for l in range(L - 2, -1, -1):
        ref = t_star - (L - 2 - l)                                   # a_j = [h_j <= ref]
        peak, step, valid = peak_before(scans[l], ref - 1)
        d = np.where(valid, delta * surrogate(peak, thetas[l], cfg.surrogate), 0)
        d = d.astype(np.float32)
        inputs = s_in if l == 0 else spikes[l - 1]
        # sum_b d_bj [s_in_bi <= step_bj]: the strict product with step + 1.
        dWs[l] = grad_sparse_inputs(inputs, np.where(valid, step + 1, 0).astype(np.int16), d)
        if l > 0:
            delta = d @ signs.wf[l]
    return dWs, np.zeros(L), loss, correct
