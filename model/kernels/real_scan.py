"""The real-valued (S4NN, ``--real``) dense layer's forward and peak potentials, compiled,
one sample at a time: model.kernels.scan with float32 potentials.

The same event order as the integer scan and model.layer's slot scan (inputs
counting-sorted by time, stable in input index, each step's rows added and then
compared), so every potential is the same float32 sequential sum as the NumPy slot scan's
and the results equal ``model.layer.layer_from_rows(..., strict=True)`` and
``peak_before`` on float32 rows bit for bit. A neuron fires at 1 + the first step
t <= 254 with V > threshold (strictly, as in the papers).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from contract.numerics import LAST_STEP, SILENT

from ..layer import LayerResult, final_potentials
from . import KERNEL
from .scan import N_TIMES, add_rows, as_rows, as_times, sort_by_time


@njit(**KERNEL)
def real_forward_kernel(s_in, rows, threshold, spikes, v_cross):
    """Fill spikes and v_cross (B, N_out) for inputs s_in (B, N_in) under float32
    connection rows (N_in + 1, N_out): V > threshold (float32).

    The crossing step is a running minimum of (t if V > threshold else 256), branch-free;
    V at the end of each step is kept (``history``) and read at the crossing afterwards
    (three times faster than selecting V in the same loop)."""
    n_in, n_out = s_in.shape[1], rows.shape[1]
    order, start = np.empty(n_in, np.intp), np.empty(N_TIMES + 1, np.intp)
    fill = np.empty(N_TIMES + 1, np.intp)
    v = np.empty(n_out, np.float32)
    t_cross = np.empty(n_out, np.int32)
    history = np.empty((LAST_STEP, n_out), np.float32)
    never = np.int32(SILENT)
    for b in range(s_in.shape[0]):
        sort_by_time(s_in[b], order, start, fill)
        v[:] = 0
        t_cross[:] = SILENT
        for t in range(LAST_STEP):
            if start[t] == start[t + 1]:
                continue
            add_rows(v, rows, order, start[t], start[t + 1])
            now = np.int32(t)
            for j in range(n_out):
                t_cross[j] = min(t_cross[j], now if v[j] > threshold else never)
            history[t] = v
        for j in range(n_out):
            crossed = t_cross[j] < SILENT
            spikes[b, j] = t_cross[j] + 1 if crossed else SILENT
            v_cross[b, j] = history[t_cross[j], j] if crossed else 0


@njit(**KERNEL)
def real_peak_kernel(s_in, rows, limit, peak, step, valid):
    """Per sample b and neuron j: the largest V at the end of a step t <= limit[b] with
    events (t <= 254), the earliest such step on equal values; valid[b] False (peak and
    step 0) when no input spiked by then."""
    n_in, n_out = s_in.shape[1], rows.shape[1]
    order, start = np.empty(n_in, np.intp), np.empty(N_TIMES + 1, np.intp)
    fill = np.empty(N_TIMES + 1, np.intp)
    v = np.empty(n_out, np.float32)
    best = np.empty(n_out, np.float32)
    at = np.empty(n_out, np.int32)
    for b in range(s_in.shape[0]):
        sort_by_time(s_in[b], order, start, fill)
        v[:] = 0
        best[:] = -np.inf
        at[:] = 0
        seen = False
        for t in range(min(limit[b], LAST_STEP - 1) + 1):
            if start[t] == start[t + 1]:
                continue
            add_rows(v, rows, order, start[t], start[t + 1])
            seen = True
            now = np.int32(t)
            for j in range(n_out):                  # branch-free selects: vectorised
                x = v[j]
                at[j] = now if x > best[j] else at[j]
                best[j] = max(best[j], x)
        valid[b] = seen
        for j in range(n_out):
            peak[b, j] = best[j] if seen else 0
            step[b, j] = at[j] if seen else 0


def float_rows(wt_pad: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``as_rows`` for the real-valued kernels: float32 rows (refused otherwise)."""
    rows = as_rows(wt_pad, s)
    if rows.dtype != np.float32:
        raise ValueError(f"real-valued connection rows must be float32, got {rows.dtype}")
    return rows


def forward_rows_real(s_in: np.ndarray, wt_pad: np.ndarray, threshold: float, *,
                      final: bool = True) -> LayerResult:
    """``model.layer.layer_from_rows(s_in, wt_pad, threshold, strict=True)`` compiled for
    float32 rows (``padded_rows(w.T)``): spike times int16, v_cross and V(255) float32
    (``final=False``: v_final None, a dense product saved where nothing reads it)."""
    s = as_times(s_in)
    rows = float_rows(wt_pad, s)
    shape = (len(s), rows.shape[1])
    spikes, v_cross = np.empty(shape, np.int16), np.empty(shape, np.float32)
    real_forward_kernel(s, rows, np.float32(threshold), spikes, v_cross)
    return LayerResult(spikes, v_cross, final_potentials(s, rows[:-1]) if final else None)


def peak_rows_real(s_in: np.ndarray, wt_pad: np.ndarray, limit: np.ndarray):
    """``model.layer.peak_before(slot_scan(s_in, wt_pad), limit)`` compiled for float32 rows:
    (peak float32, step int16, valid bool), each (B, N_out)."""
    s = as_times(s_in)
    rows = float_rows(wt_pad, s)
    B, n_out = len(s), rows.shape[1]
    peak = np.empty((B, n_out), np.float32)
    step = np.empty((B, n_out), np.int16)
    valid = np.empty(B, np.bool_)
    limit = np.ascontiguousarray(np.broadcast_to(limit, (B,)), dtype=np.int64)
    real_peak_kernel(s, rows, limit, peak, step, valid)
    return peak, step, np.broadcast_to(valid[:, None], (B, n_out))
