"""One binary non-leaky integrate-and-fire layer, in integers (docs/numerics.md, "Neuron",
"Per-step compare", "Layer delay").

For neuron j: V_j(t) = sum_i b[j, i] * [s_i <= t]; it fires at s_j = 1 + the first step
t in 0..255 with V_j(t) >= theta (compared after all of step t's events), or 256.

Vectorised by sorting each sample's input spikes by time (``scan``): the running sum over
the sorted events is V at each event, and V(t) is the running sum at the last event of
step t. Inputs that spike at 255 or later cannot make a neuron fire before 256, so they are
left out of the scan; the final potentials V(255) are a separate dense product. The scan is
kept for training, which also needs the largest V before a given step (``peak_before``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.numerics import SILENT, T


@dataclass
class LayerResult:
    spikes: np.ndarray        # (B, N_out) int16 spike times, 256 = silent
    v_cross: np.ndarray       # (B, N_out) int16 potential at the crossing step (0 if silent)
    v_final: np.ndarray       # (B, N_out) int16 potential V(255)


@dataclass
class Scan:
    """A batch's potentials at every input event, events sorted by time per sample."""
    s_sorted: np.ndarray      # (B, K) int16 event times, ascending (K = most events < 255)
    v: np.ndarray             # (B, K, N_out) potential after each event (int16 or float32)
    step_end: np.ndarray      # (B, K) bool: last event of its step (and a real event)


def check_weights(w: np.ndarray, name: str = "weights") -> np.ndarray:
    w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (out, in) matrix, got shape {w.shape}")
    if not np.isin(w, (-1, 1)).all():
        raise ValueError(f"{name}: binary weights must be -1 or +1")
    return w.astype(np.int8)


def scan(s_in: np.ndarray, wt: np.ndarray) -> Scan:
    """Running potentials of the events of s_in (B, N_in) under wt (N_in, N_out).

    ``wt``'s dtype is the potentials' (int16 for the integer contract, float32 for the
    real-valued S4NN mode).
    """
    s = np.asarray(s_in, dtype=np.int16)
    B = len(s)
    order = np.argsort(s, axis=1, kind="stable")
    s_sorted = np.take_along_axis(s, order, axis=1)
    k_max = int((s_sorted < T - 1).sum(axis=1).max(initial=0))
    order, s_sorted = order[:, :k_max], s_sorted[:, :k_max]     # (B, K)
    v = np.cumsum(wt[order], axis=1, dtype=wt.dtype)              # (B, K, N_out)
    nxt = np.concatenate([s_sorted[:, 1:], np.full((B, 1), T, np.int16)], axis=1)
    step_end = (s_sorted < T - 1) & (nxt != s_sorted)
    return Scan(s_sorted, v, step_end)


def crossings(sc: Scan, threshold, *, strict: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(spike times, potential at the crossing step) from a scan: the first step end with
    V >= threshold (V > threshold when ``strict``)."""
    B, n_out = len(sc.s_sorted), sc.v.shape[2]
    if sc.v.shape[1] == 0:
        return np.full((B, n_out), SILENT, np.int16), np.zeros((B, n_out), sc.v.dtype)
    above = sc.v > threshold if strict else sc.v >= threshold
    crossed = above & sc.step_end[:, :, None]
    fired = crossed.any(axis=1)                                   # (B, N_out)
    first = crossed.argmax(axis=1)                                # event index
    t_cross = np.take_along_axis(sc.s_sorted, first, axis=1)
    vc = np.take_along_axis(sc.v, first[:, None, :], axis=1)[:, 0, :]
    return (np.where(fired, t_cross + 1, SILENT).astype(np.int16),
            np.where(fired, vc, 0).astype(sc.v.dtype))


def peak_before(sc: Scan, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Largest step-end potential at steps <= limit (B,), per neuron: (V, its step, valid).

    ``valid`` is False where the sample has no step end at or before its limit.
    """
    ok = sc.step_end & (sc.s_sorted <= np.asarray(limit)[:, None])          # (B, K)
    B, n_out = len(sc.s_sorted), sc.v.shape[2]
    if sc.v.shape[1] == 0 or not ok.any():
        return (np.zeros((B, n_out), np.float32), np.zeros((B, n_out), np.int16),
                np.zeros((B, n_out), bool))
    low = np.iinfo(np.int16).min if sc.v.dtype == np.int16 else -np.inf
    vm = np.where(ok[:, :, None], sc.v, sc.v.dtype.type(low))
    k = vm.argmax(axis=1)                                                  # (B, N_out)
    peak = np.take_along_axis(vm, k[:, None, :], axis=1)[:, 0, :]
    step = np.take_along_axis(sc.s_sorted, k, axis=1)
    valid = np.broadcast_to(ok.any(axis=1)[:, None], peak.shape)
    return peak.astype(np.float32), step.astype(np.int16), valid


def final_potentials(s_in: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """V(255): every input that spiked at or before 255. (B, N_out) in wt's dtype."""
    return ((np.asarray(s_in) <= T - 1).astype(np.float32)
            @ wt.astype(np.float32)).astype(wt.dtype)


def layer_forward(s_in: np.ndarray, w: np.ndarray, theta: int, chunk: int = 256) -> LayerResult:
    """Spike times of one layer. s_in: (B, N_in) times in 0..256; w: (N_out, N_in) of +-1."""
    s_in = np.asarray(s_in, dtype=np.int16)
    B, n_in = s_in.shape
    if w.shape[1] != n_in:
        raise ValueError(f"layer fan-in {w.shape[1]} does not match {n_in} inputs")
    wt = np.ascontiguousarray(w.T.astype(np.int16))               # (N_in, N_out)
    parts = [crossings(scan(s_in[lo:lo + chunk], wt), theta) for lo in range(0, B, chunk)]
    spikes = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, w.shape[0]), np.int16)
    v_cross = np.concatenate([p[1] for p in parts]) if parts else spikes.copy()
    return LayerResult(spikes, v_cross, final_potentials(s_in, wt))
