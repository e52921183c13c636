"""One binary non-leaky integrate-and-fire layer, in integers (SPEC section 3).

For neuron j: V_j(t) = sum_i b[j, i] * [s_i <= t]; it fires at s_j = 1 + the first step
t in 0..255 with V_j(t) >= theta (compared after all of step t's events), or 256.

Vectorised by sorting each sample's input spikes by time: the running sum over the sorted
events is V at each event, and V(t) is the running sum at the last event of step t.
Inputs that spike at 255 or later cannot make a neuron fire before 256, so they are left
out of the scan; the final potentials V(255) are a separate dense product.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .encoding import SILENT, T


@dataclass
class LayerResult:
    spikes: np.ndarray        # (B, N_out) int16 spike times, 256 = silent
    v_cross: np.ndarray       # (B, N_out) int16 potential at the crossing step (0 if silent)
    v_final: np.ndarray       # (B, N_out) int16 potential V(255)


def check_weights(w: np.ndarray, name: str = "weights") -> np.ndarray:
    w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (out, in) matrix, got shape {w.shape}")
    if not np.isin(w, (-1, 1)).all():
        raise ValueError(f"{name}: binary weights must be -1 or +1")
    return w.astype(np.int8)


def layer_forward(s_in: np.ndarray, w: np.ndarray, theta: int, chunk: int = 256) -> LayerResult:
    """Spike times of one layer. s_in: (B, N_in) times in 0..256; w: (N_out, N_in) of +-1."""
    s_in = np.asarray(s_in, dtype=np.int16)
    B, n_in = s_in.shape
    if w.shape[1] != n_in:
        raise ValueError(f"layer fan-in {w.shape[1]} does not match {n_in} inputs")
    n_out = w.shape[0]
    wt = np.ascontiguousarray(w.T.astype(np.int16))             # (N_in, N_out)
    spikes = np.full((B, n_out), SILENT, np.int16)
    v_cross = np.zeros((B, n_out), np.int16)
    # V(255): every input that spiked at or before 255.
    v_final = ((s_in <= T - 1).astype(np.float32) @ wt.astype(np.float32)).astype(np.int16)
    for lo in range(0, B, chunk):
        s = s_in[lo:lo + chunk]                                   # (b, N_in)
        order = np.argsort(s, axis=1, kind="stable")
        s_sorted = np.take_along_axis(s, order, axis=1)
        k_max = int((s_sorted < T - 1).sum(axis=1).max(initial=0))
        if k_max == 0:
            continue
        order, s_sorted = order[:, :k_max], s_sorted[:, :k_max]  # (b, K)
        v = np.cumsum(wt[order], axis=1, dtype=np.int16)          # (b, K, N_out)
        nxt = np.concatenate([s_sorted[:, 1:], np.full((len(s), 1), T, np.int16)], axis=1)
        step_end = (s_sorted < T - 1) & (nxt != s_sorted)         # last event of its step
        crossed = (v >= theta) & step_end[:, :, None]
        fired = crossed.any(axis=1)                               # (b, N_out)
        first = crossed.argmax(axis=1)                            # (b, N_out) event index
        t_cross = np.take_along_axis(s_sorted, first, axis=1)
        vc = np.take_along_axis(v, first[:, None, :], axis=1)[:, 0, :]
        spikes[lo:lo + chunk] = np.where(fired, t_cross + 1, SILENT)
        v_cross[lo:lo + chunk] = np.where(fired, vc, 0)
    return LayerResult(spikes, v_cross, v_final)
