"""Reference implementations for tests: a deliberately literal, loop-over-time
implementation of docs/numerics.md, "Neuron" to "No-spike fallback" (``naive_layer``,
``naive_decide``), and the previous vectorised golden layer (``old_layer_forward``: sort
the events, cumulative sum of the gathered weight rows over all events (B, K, N), compare at
step ends), which the event/slot formulation of model.layer must reproduce bit for bit and
which benchmarks/inference.py runs as its baseline."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.numerics import SILENT, T
from model.layer import LayerResult


def naive_layer(s_in, w, theta):
    """(B, N_in) times -> (spikes, v_cross, v_final) by stepping t = 0..255."""
    B, n_out = s_in.shape[0], w.shape[0]
    spikes = np.full((B, n_out), 256)
    v_cross = np.zeros((B, n_out), int)
    for t in range(256):
        v = (s_in <= t).astype(int) @ w.T.astype(int)          # V(t) after all of step t
        new = (v >= theta) & (spikes == 256)
        spikes[new] = t + 1
        v_cross[new] = v[new]
    return spikes, v_cross, v


def naive_decide(out, v_cross, v_final):
    labels, steps = [], []
    for o, vc, vf in zip(out, v_cross, v_final):
        if o.min() < 256:
            winners = np.flatnonzero(o == o.min())
            best = max(winners, key=lambda k: (vc[k], -k))
            labels.append(best)
            steps.append(o.min() - 1)
        else:
            labels.append(int(np.argmax(vf)))
            steps.append(255)
    return np.array(labels), np.array(steps)


@dataclass
class OldScan:
    """A batch's potentials at every input event, events sorted by time per sample."""
    s_sorted: np.ndarray      # (B, K) int16 event times, ascending (K = most events < 255)
    v: np.ndarray             # (B, K, N_out) potential after each event (int16 or float32)
    step_end: np.ndarray      # (B, K) bool: last event of its step (and a real event)


def old_scan(s_in: np.ndarray, wt: np.ndarray) -> OldScan:
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
    return OldScan(s_sorted, v, step_end)


def old_crossings(sc: OldScan, threshold, *, strict: bool = False) -> tuple[np.ndarray, np.ndarray]:
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


def old_peak_before(sc: OldScan, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def old_layer_forward(s_in, w, theta, chunk: int = 256, *, strict=False,
                      dtype=np.int16) -> LayerResult:
    """The previous golden layer: scan + crossings per chunk of 256 samples."""
    s_in = np.asarray(s_in, dtype=np.int16)
    wt = np.ascontiguousarray(np.asarray(w).T.astype(dtype))
    parts = [old_crossings(old_scan(s_in[lo:lo + chunk], wt), theta, strict=strict)
             for lo in range(0, len(s_in), chunk)]
    spikes = np.concatenate([p[0] for p in parts])
    v_cross = np.concatenate([p[1] for p in parts])
    v_final = ((s_in <= T - 1).astype(np.float32) @ wt.astype(np.float32)).astype(wt.dtype)
    return LayerResult(spikes, v_cross, v_final)


def old_forward_times(s_in, weights, thetas):
    """(spikes per layer, v_cross, v_final) of a network under ``old_layer_forward``."""
    spikes, s = [], s_in
    for w, th in zip(weights, thetas):
        r = old_layer_forward(s, w, int(th))
        spikes.append(r.spikes)
        s = r.spikes
    return spikes, r.v_cross, r.v_final
