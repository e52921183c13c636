"""One binary non-leaky integrate-and-fire layer, in integers (docs/numerics.md, "Neuron",
"Per-step compare", "Layer delay").

For neuron j: V_j(t) = sum_i b[j, i] * [s_i <= t]; it fires at s_j = 1 + the first step
t in 0..255 with V_j(t) >= theta (compared after all of step t's events), or 256.

Event formulation (``slot_scan``): V only changes at the steps where some input spikes, so
each sample's input spikes are sorted by time and V is followed event by event (one weight
row added per event, all samples of a chunk at once); the compare only matters at the last
event of each distinct step, a "slot" (about 70 slots for about 150 events per MNIST
image). The crossing (``crossings``) is then the number of leading slots whose V stays below
theta, counted with one AND and one add per slot on a uint8 (B, N) array. Inputs that spike
at 255 or later cannot make a neuron fire before 256, so they are left out; the final
potentials V(255) come from the weights' row sums (``final_potentials``).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from contract.numerics import LAST_STEP, SILENT


SMALL = 2048     # fewer potentials per (B, N_out) array: vectorise along the event axis


@dataclass
class LayerResult:
    spikes: np.ndarray        # (B, N_out) int16 spike times, 256 = silent
    v_cross: np.ndarray       # (B, N_out) int16 potential at the crossing step (0 if silent)
    v_final: np.ndarray       # (B, N_out) int16 potential V(255)


@dataclass
class SlotScan:
    """A chunk's potentials at the end of every step in which some input spiked."""
    t: np.ndarray             # (B, K + 1) int16 step of each slot, ascending (padding: 255)
    n: np.ndarray             # (B,) number of real slots per sample
    v: np.ndarray             # (K, B, N_out) V at the slot's step end (padding: any value)


def check_weights(w: np.ndarray, name: str = "weights") -> np.ndarray:
    w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (out, in) matrix, got shape {w.shape}")
    if not np.isin(w, (-1, 1)).all():
        raise ValueError(f"{name}: binary weights must be -1 or +1")
    return w.astype(np.int8)


_scratch = threading.local()


def scratch(name: str, shape: tuple, dtype) -> np.ndarray:
    """A per-thread work array reused between chunks (fresh large arrays cost page faults)."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buf = getattr(_scratch, name, None)
    if buf is None or buf.size < size:
        buf = np.empty(max(size, 1 << 20), np.uint8)
        setattr(_scratch, name, buf)
    return buf[:size].view(dtype).reshape(shape)


def padded_rows(wt: np.ndarray) -> np.ndarray:
    """wt (N_in, N_out) with one extra row of zeros, the row padding events add."""
    return np.concatenate([wt, np.zeros((1, wt.shape[1]), wt.dtype)])


def slot_scan(s_in: np.ndarray, wt_pad: np.ndarray) -> SlotScan:
    """Potentials of a chunk s_in (B, N_in) at each of its slots under ``padded_rows(wt)``.

    ``wt_pad``'s dtype is the potentials' (int16 for the integer contract, float32 for the
    real-valued S4NN mode; the events are added in time order, stable in input index, so
    float sums are those of a sequential cumulative sum).
    """
    s = np.asarray(s_in, dtype=np.int16)
    B, n_in = s.shape
    order = np.argsort(s, axis=1, kind="stable")
    s_sorted = np.take_along_axis(s, order, axis=1)
    live = s_sorted < LAST_STEP                                   # events that can matter
    n_ev = live.sum(axis=1)
    E = int(n_ev.max(initial=0))
    live, s_sorted = live[:, :E], s_sorted[:, :E]
    idx = np.where(live.T, order[:, :E].T, n_in)                  # (E, B); padding: zero row
    n_out = wt_pad.shape[1]
    v_ev = np.take(wt_pad, idx, axis=0, mode="clip",
                   out=scratch("events", (E, B, n_out), wt_pad.dtype))
    if B * n_out >= SMALL:
        for e in range(1, E):
            np.add(v_ev[e], v_ev[e - 1], out=v_ev[e])             # running sum over events
    else:                                     # few potentials: one call along the event axis
        v_ev[:] = np.cumsum(v_ev.transpose(1, 2, 0), axis=2, dtype=v_ev.dtype).transpose(2, 0, 1)
    nxt = np.concatenate([s_sorted[:, 1:], np.full((B, 1), SILENT, np.int16)], axis=1)
    end = live & (nxt != s_sorted)                                # last event of its step
    n_slots = end.sum(axis=1)
    K = int(n_slots.max(initial=0))
    bb, ee = np.nonzero(end)
    kk = (np.cumsum(end, axis=1) - 1)[bb, ee]
    end_ev = np.full((B, K), max(E - 1, 0), np.intp)
    end_ev[bb, kk] = ee
    t = np.full((B, K + 1), LAST_STEP, np.int16)
    t[bb, kk] = s_sorted[bb, ee]
    rows = end_ev.T * B + np.arange(B)[None, :]                   # (K, B) into (E * B) rows
    v = np.take(v_ev.reshape(E * B, n_out), rows, axis=0, mode="clip",
                out=np.empty((K, B, n_out), wt_pad.dtype))
    return SlotScan(t, n_slots, v)


def crossings(sc: SlotScan, threshold, *, strict: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(spike times, potential at the crossing step) from a slot scan: the first slot with
    V >= threshold (V > threshold when ``strict``)."""
    K, B, n_out = sc.v.shape
    below = (sc.v <= threshold if strict else sc.v < threshold).view(np.uint8)
    if B * n_out >= SMALL:
        not_yet = np.ones((B, n_out), np.uint8)
        count = np.zeros((B, n_out), np.uint8)                    # K <= 255 slots
        for k in range(K):
            np.bitwise_and(not_yet, below[k], out=not_yet)
            np.add(count, not_yet, out=count)
    elif K:                                   # few potentials: the first slot not below
        above = np.ascontiguousarray(below.transpose(1, 2, 0)) == 0    # (B, N_out, K)
        count = np.where(above.any(axis=2), above.argmax(axis=2), K)
    else:
        count = np.zeros((B, n_out), np.intp)
    fired = count < sc.n[:, None]
    first = np.minimum(count, max(K - 1, 0)).astype(np.intp)
    t_cross = np.take_along_axis(sc.t, first, axis=1)
    if K:
        vc = sc.v[first, np.arange(B)[:, None], np.arange(n_out)[None, :]]
    else:
        vc = np.zeros((B, n_out), sc.v.dtype)
    return (np.where(fired, t_cross + 1, SILENT).astype(np.int16),
            np.where(fired, vc, 0).astype(sc.v.dtype))


def peak_before(sc: SlotScan, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Largest slot potential at steps <= limit (B,), per neuron: (V, its step, valid); the
    earliest such slot on equal values.

    The slots at or before a sample's limit are a prefix of its slots: a running maximum
    over slots, read at each sample's last one, then the number of leading slots below it.
    ``valid`` is False where the sample has no slot at or before its limit (V and step 0).
    """
    K, B, n_out = sc.v.shape
    last = ((sc.t[:, :K] <= np.asarray(limit)[:, None])
            & (np.arange(K)[None, :] < sc.n[:, None])).sum(axis=1)  # (B,) slots in prefix
    ok = last > 0
    low = np.iinfo(np.int16).min if sc.v.dtype == np.int16 else -np.inf
    running = np.full((B, n_out), low, sc.v.dtype)
    peak = np.zeros((B, n_out), sc.v.dtype)
    for k in range(int(last.max(initial=0))):
        np.maximum(running, sc.v[k], out=running)
        ends = np.flatnonzero(last == k + 1)
        if len(ends):
            peak[ends] = running[ends]
    below = np.empty((B, n_out), bool)
    not_yet = np.ones((B, n_out), np.uint8)
    first = np.zeros((B, n_out), np.uint8)                          # leading slots below
    for k in range(int(last.max(initial=0))):
        np.less(sc.v[k], peak, out=below)
        np.bitwise_and(not_yet, below.view(np.uint8), out=not_yet)
        np.add(first, not_yet, out=first)
    step = np.take_along_axis(sc.t, first.astype(np.intp), axis=1)
    valid = np.broadcast_to(ok[:, None], peak.shape)
    return (np.where(valid, peak, 0).astype(np.float32), np.where(valid, step, 0).astype(np.int16),
            valid)


def final_potentials(s_in: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """V(255): every input that spiked at or before 255. (B, N_out) in wt's dtype.

    Integer weights: the column sums less the silent inputs' rows (exact in float32; only
    the samples with a silent input need the product). Float weights: the dense product.
    """
    s = np.asarray(s_in)
    if not np.issubdtype(wt.dtype, np.integer):
        return ((s <= LAST_STEP).astype(np.float32) @ wt.astype(np.float32)).astype(wt.dtype)
    out = np.broadcast_to(wt.sum(axis=0, dtype=np.int64), (len(s), wt.shape[1])).copy()
    silent = s > LAST_STEP
    rows = np.flatnonzero(silent.any(axis=1))
    if len(rows):
        out[rows] -= (silent[rows].astype(np.float32) @ wt.astype(np.float32)).astype(np.int64)
    return out.astype(wt.dtype)


def chunk_size(n_out: int) -> int:
    """Samples per chunk: about 40,000 potentials per (B, N_out) array (python loop overhead
    against cache size)."""
    return int(min(4096, max(16, 40000 // max(n_out, 1))))


def layer_forward(s_in: np.ndarray, w: np.ndarray, theta, *, strict: bool = False,
                  dtype=np.int16) -> LayerResult:
    """Spike times of one layer. s_in: (B, N_in) times in 0..256; w: (N_out, N_in) of +-1
    (or real weights with ``dtype=np.float32``, the S4NN mode)."""
    if w.shape[1] != np.shape(s_in)[1]:
        raise ValueError(f"layer fan-in {w.shape[1]} does not match {np.shape(s_in)[1]} inputs")
    wt = np.ascontiguousarray(np.asarray(w).T, dtype=dtype)        # (N_in, N_out)
    return layer_from_rows(s_in, padded_rows(wt), theta, strict=strict)


def layer_from_rows(s_in: np.ndarray, wt_pad: np.ndarray, theta, *,
                    strict: bool = False) -> LayerResult:
    """``layer_forward`` on the weights as ``padded_rows(w.T)``."""
    s_in = np.asarray(s_in, dtype=np.int16)
    B = len(s_in)
    n_out = wt_pad.shape[1]
    spikes = np.empty((B, n_out), np.int16)
    v_cross = np.empty((B, n_out), wt_pad.dtype)
    # Samples with similar event counts share a chunk: less padding in the event loop.
    by_events = np.argsort((s_in < LAST_STEP).sum(axis=1), kind="stable")
    step = chunk_size(n_out)
    for lo in range(0, B, step):
        rows = by_events[lo:lo + step]
        spikes[rows], v_cross[rows] = crossings(slot_scan(s_in[rows], wt_pad), theta,
                                                strict=strict)
    return LayerResult(spikes, v_cross, final_potentials(s_in, wt_pad[:-1]))
