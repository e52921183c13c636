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

Conv layers (docs/numerics.md, "Convolution") are weight layers like dense ones, with the
kernel gradient summed over positions; their forward, peaks and backward run on the
event-driven kernels of model.kernels.conv and model.kernels.conv_grad. A pooling layer adds no
delay: its output fired by the reference step iff the window's highest peak reached theta,
so its error goes to the window's input with the highest peak (model.pool.route).

A real network (``--real``, S4NN-style) runs the same rule on its real weights: the forward
fires when V > theta - 1/2 (model.kernels.real_scan, real_conv; with weights of +-1 that is
the integer V >= theta), the peaks are those of the real potentials, and the backward uses
the weights where the binary rule uses their signs (V(t*) = sum_j w_kj a_j, the error sent
down through w); dM_j / dW_ji = [s_i <= step of the peak] and the surrogate are unchanged.

``cfg.early`` > 0 adds the early-decision term (model.rules.early): a hinge that lifts the
label's potential to theta by step min(t*, ``cfg.early_step``), through the same backward
read at that step.
"""
from __future__ import annotations

import numpy as np

from contract.numerics import SILENT, T

from ..kernels.conv import conv_peaks
from ..kernels.conv_grad import conv_kernel_grad, conv_spread_back
from ..kernels.grad import grad_before
from ..kernels.real_conv import conv_peaks_real
from ..kernels.real_scan import peak_rows_real
from ..kernels.scan import peak_rows
from ..pool import pool_times, route, unpool
from . import early


def decision_step(out_spikes: np.ndarray) -> np.ndarray:
    """t*: the first output crossing step (spike time - 1), 255 when no output fired."""
    first = out_spikes.min(axis=1).astype(np.int32)
    return np.where(first < SILENT, first - 1, T - 1)


def surrogate(m: np.ndarray, theta: int, width: float) -> np.ndarray:
    """d[m >= theta]/dm: a triangle of half-width ``width`` centred on theta - 1/2."""
    return np.maximum(0.0, 1.0 - np.abs(m - (theta - 0.5)) / width) / width


def forward_scans(net, s_in: np.ndarray, signs):
    """Per layer: spike times, and for each weight layer what its peaks are scanned from
    later (``peaks_before``): (input spike times, connection rows) for a dense layer,
    (input spike times, kernels, layer) for a conv one (None for pooling). Integer or
    real-valued (``signs.real``) as the net's forward (``Net.fire``)."""
    spikes, scans, s, wl = [], [], s_in, 0
    for layer in net.arch:
        if layer.kind == "pool":
            sc, spk = None, pool_times(s, layer)
        else:
            sc = (s, signs.wb[wl], layer) if layer.kind == "conv" else (s, signs.wt_pad[wl])
            spk = net.fire(s, signs, wl, layer).spikes
            wl += 1
        scans.append(sc)
        spikes.append(spk)
        s = spk
    return spikes, scans


def peaks_before(scan, limit: np.ndarray):
    """(peak, step, valid) of a weight layer's scan (``forward_scans``) before ``limit``;
    float32 weights (a real network) are scanned in float32."""
    real = scan[1].dtype == np.float32
    if len(scan) == 3:
        return (conv_peaks_real if real else conv_peaks)(*scan, limit)
    return (peak_rows_real if real else peak_rows)(*scan, limit)


def hidden_peaks(net, scans, t_star: np.ndarray):
    """For every layer below the output: (peak, step, valid) of weight layers at their
    reference step, and the input each pooling window routes to (None on the input)."""
    n_w = len(net.W)
    peaks, chosen, score, wl = {}, {}, None, 0
    for i, layer in enumerate(net.arch[:-1]):
        if layer.kind == "pool":
            if score is not None:
                chosen[i] = route(score, layer)
                score = np.take_along_axis(score, chosen[i], axis=1)
            continue
        ref = t_star - (n_w - 2 - wl)                                   # a_j = [h_j <= ref]
        peaks[i] = peaks_before(scans[i], ref - 1)
        peak, _, valid = peaks[i]
        score = np.where(valid, peak, -np.inf)
        wl += 1
    return peaks, chosen


def gradients(net, s_in: np.ndarray, y: np.ndarray, cfg, signs=None):
    """One batch slice: (dW per weight layer, dfact (zeros: thresholds are fixed), summed
    loss, correct decisions). ``signs``: ``net.signs()`` when the caller already has them.
    With ``cfg.early`` > 0 the early-decision term is added (model.rules.early)."""
    signs = signs or net.signs()
    spikes, scans = forward_scans(net, s_in, signs)
    t_star = decision_step(spikes[-1])                               # (B,)
    inputs = [s_in] + spikes[:-1]
    a = (inputs[-1] <= t_star[:, None]).astype(np.float32)           # (B, N_{L-1})
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
    if cfg.early <= 0:
        return backward(net, signs, inputs, scans, t_star, a, g, cfg), np.zeros(len(net.W)), \
            loss, correct
    ref = early.reference_step(t_star, cfg.early_step)
    now, late = np.flatnonzero(ref == t_star), np.flatnonzero(ref < t_star)
    extra, dv = early.hinge(v[now, y[now]], net.thetas[-1], cfg.early, cfg.tau)
    g[now, y[now]] += dv                        # decided by R: the term reads V(t*) too
    if cfg.early_rivals:
        loss_rivals, dv_rivals = (
            early.relative_rivals(v[now], y[now], cfg.early, cfg.tau) if cfg.early_relative
            else early.rivals(v[now], y[now], net.thetas[-1], cfg.early, cfg.tau))
        g[now] += dv_rivals
        extra += loss_rivals
    dWs = backward(net, signs, inputs, scans, t_star, a, g, cfg)
    if len(late):
        dW_late, extra_late = late_backward(net, signs, inputs, scans, ref, y, late, cfg)
        for dW, d in zip(dWs, dW_late):
            np.add(dW, d, out=dW)
        extra += extra_late
    return dWs, np.zeros(len(net.W)), loss + extra, correct


def late_backward(net, signs, inputs, scans, ref, y, late, cfg):
    """The early term on the images ``late`` (indices) not decided by their reference step:
    (dW per weight layer, summed loss) of the hinge on V_y(ref), those images read at ref."""
    ref, y = ref[late], y[late]
    inputs = [s[late] for s in inputs]
    scans = [None if sc is None else (sc[0][late],) + sc[1:] for sc in scans]
    a = (inputs[-1] <= ref[:, None]).astype(np.float32)
    loss, dv = early.hinge((a * signs.wf[-1][y]).sum(axis=1), net.thetas[-1], cfg.early,
                           cfg.tau)                                  # on V_y(ref)
    g = np.zeros((len(y), signs.wf[-1].shape[0]), np.float32)
    g[np.arange(len(y)), y] = dv
    return backward(net, signs, inputs, scans, ref, a, g, cfg), loss


def backward(net, signs, inputs, scans, ref, a, g, cfg):
    """dW per weight layer for the output error g = dL/dV(ref) (B, N_out); ``a`` (B,
    N_{L-1}): the output layer's inputs fired by ``ref``; layer l is read at
    ref - (L - 2 - l)."""
    thetas = net.thetas
    L = len(signs.wb)
    dWs = [None] * L
    dWs[-1] = g.T @ a
    delta = g @ signs.wf[-1]                    # dL/da of the output layer's inputs
    peaks, chosen = hidden_peaks(net, scans, ref)
    wl = L - 2
    for i in range(len(net.arch) - 2, -1, -1):
        layer = net.arch[i]
        if layer.kind == "pool":
            if i not in chosen:
                break                                                # pooling the image
            delta = unpool(delta, chosen[i], layer.n_in)
            continue
        peak, step, valid = peaks[i]
        d = np.where(valid, delta * surrogate(peak, thetas[wl], cfg.surrogate), 0)
        d = d.astype(np.float32)
        # sum_b d_bj [s_in_bi <= step_bj]: the strict product with step + 1.
        bound = np.where(valid, step + 1, 0).astype(np.int16)
        if layer.kind == "conv":
            dWs[wl] = conv_kernel_grad(inputs[i], bound, d, layer)
            if wl > 0:
                delta = conv_spread_back(d, signs.wb[wl], layer)
        else:
            dWs[wl] = grad_before(inputs[i], bound, d)
            if wl > 0:
                delta = d @ signs.wf[wl]
        wl -= 1
    return dWs
