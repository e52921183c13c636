"""Golden runs: the model's forward pass over images, as the arrays the vector files hold.

The golden model is ``model.network.forward_times`` (docs/numerics.md, "Neuron" to
"No-spike fallback"); this module batches it and shapes its results into the keys of
``contract.artifacts.vector_spec``.
"""
from __future__ import annotations

import sys

import numpy as np

from contract.events import images_to_events
from contract.numerics import T, encode_latency
from model.arch import Layer, dense_arch
from model.conv import conv_rows
from model.decision import Decision
from model.network import forward_times

BATCH = 500


def run_golden(images: np.ndarray, weights, thetas, progress: bool = False, desc: str = "",
               arch: list[Layer] | None = None):
    """Full golden forward pass in batches; returns dict of arrays (vector keys minus events):
    ``spikes_<l>`` for every layer l of ``arch`` (None: dense layers only)."""
    parts = []
    it = range(0, len(images), BATCH)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=desc, unit="batch", total=len(it), file=sys.stderr, leave=False)
    for lo in it:
        r = forward_times(encode_latency(images[lo:lo + BATCH]), weights, thetas, arch)
        d = r.decision
        part = {f"spikes_{l}": s.astype(np.int16) for l, s in enumerate(r.spikes)}
        part.update(label=d.label.astype(np.int16), step=d.step.astype(np.int16),
                    tie=d.tie.astype(bool), no_spike=d.no_spike.astype(bool),
                    v_final=r.v_final.astype(np.int16), v_cross=r.v_cross.astype(np.int16),
                    winners=d.winners.astype(bool))
        parts.append(part)
    if not parts:
        raise ValueError("no images")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def decision_view(g: dict) -> Decision:
    """The decision fields of a golden run as a ``model.decision.Decision``."""
    return Decision(g["label"], g["step"], g["tie"], g["no_spike"], g["winners"])


def connection_matrices(weights, arch: list[Layer] | None = None) -> list:
    """Per layer: the (N_out, N_in) matrix of +-1 (0: no connection) every layer applies,
    conv layers expanded over positions (docs/numerics.md, "Convolution"); None for pooling."""
    if arch is None:
        arch = dense_arch([weights[0].shape[1]] + [w.shape[0] for w in weights])
    out, it = [], iter(weights)
    for layer in arch:
        if layer.kind == "pool":
            out.append(None)
        elif layer.kind == "conv":
            out.append(conv_rows(next(it), layer, np.int8)[:-1].T)
        else:
            out.append(np.asarray(next(it)))
    return out


def potential_extremes(images: np.ndarray, spikes: list[np.ndarray], weights,
                       arch: list[Layer] | None = None) -> tuple:
    """Per image and layer, min and max over t in 0..255 of any neuron's V(t) -> (N, L) int16
    (0 for a pooling layer, which has no potential)."""
    mats = connection_matrices(weights, arch)
    n, L = len(images), len(mats)
    vmin, vmax = np.zeros((n, L), np.int16), np.zeros((n, L), np.int16)
    s_in = encode_latency(images)
    for l, w in enumerate(mats):
        if w is None:
            s_in = spikes[l]
            continue
        wt = w.T.astype(np.int32)
        for b in range(n):
            acc = np.zeros((T + 1, w.shape[0]), np.int32)
            np.add.at(acc, s_in[b].astype(np.int64), wt)
            v = np.cumsum(acc[:T], axis=0)                         # V(t), t = 0..255
            vmin[b, l], vmax[b, l] = v.min(), v.max()
        s_in = spikes[l]
    return vmin, vmax


def vector_arrays(images, labels, g: dict, n_layers: int) -> dict:
    """The arrays of one vector file: images, labels, their events and the golden results."""
    off, et, ea = images_to_events(images)
    out = {"images": np.ascontiguousarray(images, np.uint8),
           "labels": np.asarray(labels, np.int16), "ev_offsets": off, "ev_time": et,
           "ev_addr": ea}
    for l in range(n_layers):
        out[f"spikes_{l}"] = g[f"spikes_{l}"]
    for k in ("label", "step", "tie", "no_spike", "v_final"):
        out[k] = g[k]
    return out
