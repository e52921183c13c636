"""A weight layer's forward and its peak potentials, one sample at a time (model.layer's
event formulation, docs/numerics.md, "Neuron" and "Per-step compare").

Per sample the inputs are counting-sorted by spike time (stable in input index, as the
slot scan's argsort), then each step with events adds its inputs' connection rows to the
potentials V and compares after the step's last event. Inputs at 255 only enter V(255);
silent inputs (256) never (V(255) is the sum of all rows less the silent inputs' when
that is fewer rows). Potentials are kept in the rows' integer dtype, as in the
NumPy scan.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from contract.numerics import LAST_STEP, SILENT

from ..layer import LayerResult, layer_from_rows, peak_before, slot_scan
from . import KERNEL

N_TIMES = SILENT + 1            # spike times 0..256


@njit(**KERNEL)
def sort_by_time(s, order, start, fill):
    """Counting sort of one sample's times ``s`` (0..256) into ``order``, stable in index;
    ``start[t]`` is the position of the first input with time t (``start[257]`` = len).
    The inputs at 255 and 256 (most of an image's) are placed with counters held in
    registers."""
    start[:] = 0
    for i in range(s.shape[0]):
        start[min(s[i], SILENT) + 1] += 1
    for t in range(1, start.shape[0]):
        start[t] += start[t - 1]
    fill[:] = start
    late, silent = start[LAST_STEP], start[SILENT]
    for i in range(s.shape[0]):
        t = s[i]
        if t < LAST_STEP:
            order[fill[t]] = i
            fill[t] += 1
        elif t == LAST_STEP:
            order[late] = i
            late += 1
        else:
            order[silent] = i
            silent += 1


@njit(**KERNEL)
def add_rows(v, rows, order, lo, hi):
    """v += the connection rows of inputs order[lo:hi]."""
    for k in range(lo, hi):
        r = rows[order[k]]
        for j in range(v.shape[0]):
            v[j] += r[j]


@njit(**KERNEL)
def sub_rows(v, rows, order, lo, hi):
    """v -= the connection rows of inputs order[lo:hi]."""
    for k in range(lo, hi):
        r = rows[order[k]]
        for j in range(v.shape[0]):
            v[j] -= r[j]


# Per neuron, the first crossing and the peak are running minima / maxima of int32 keys
# (branch-free loops: no compare-and-store per neuron and step):
#   crossing key (t << 16) + V + 32768, plus 2^30 while V < theta: the smallest is the first
#   step t with V >= theta, with its V; 2^30 or more: not crossed;
#   peak key V * 256 + (255 - t): the largest is the highest V, the earliest on equal V.
NOT_CROSSED = 1 << 30
V_OFFSET = 1 << 15


@njit(**KERNEL)
def first_crossings(v, key, tt, th):
    """key = min(key, crossing key of V at the step tt >> 16)."""
    off, flag = np.int32(V_OFFSET), np.int32(NOT_CROSSED)
    for j in range(v.shape[0]):
        x = np.int32(v[j])
        key[j] = min(key[j], (tt + x + off) | ((x - th) >> np.int32(31) & flag))


@njit(**KERNEL)
def scan_buffers(n_in, rows):
    """One sample's scratch: input order, per-time starts and fill counts (sort_by_time),
    potentials (rows' dtype) and per-neuron keys."""
    n_out = rows.shape[1]
    return (np.empty(n_in, np.intp), np.empty(N_TIMES + 1, np.intp),
            np.empty(N_TIMES + 1, np.intp), np.empty(n_out, rows.dtype),
            np.empty(n_out, np.int32))


@njit(**KERNEL)
def forward_kernel(s_in, rows, theta, spikes, v_cross, v_final):
    """Fill spikes, v_cross, v_final (B, N_out) for inputs s_in (B, N_in) under connection
    rows (N_in + 1, N_out): fire at 1 + the first step t <= 254 with V >= theta (theta
    within +-2^16)."""
    n_in, n_out = s_in.shape[1], rows.shape[1]
    order, start, fill, v, key = scan_buffers(n_in, rows)
    th, off, flag = np.int32(theta), np.int32(V_OFFSET), np.int32(NOT_CROSSED)
    total = np.zeros(n_out, rows.dtype)             # the sum of all rows, once needed
    every = np.arange(n_in)
    have_total = False
    for b in range(s_in.shape[0]):
        sort_by_time(s_in[b], order, start, fill)
        v[:] = 0
        key[:] = flag
        for t in range(LAST_STEP):
            if start[t] == start[t + 1]:
                continue
            add_rows(v, rows, order, start[t], start[t + 1])
            first_crossings(v, key, np.int32(t) << 16, th)
        for j in range(n_out):
            crossed = key[j] < flag
            spikes[b, j] = (key[j] >> 16) + 1 if crossed else SILENT
            v_cross[b, j] = (key[j] & 0xFFFF) - off if crossed else 0
        late, silent = start[SILENT] - start[LAST_STEP], start[N_TIMES] - start[SILENT]
        if late <= silent:                          # V(255): the inputs at 255 added
            add_rows(v, rows, order, start[LAST_STEP], start[SILENT])
        else:                                       # or all rows less the silent inputs'
            if not have_total:
                add_rows(total, rows, every, 0, n_in)
                have_total = True
            v[:] = total
            sub_rows(v, rows, order, start[SILENT], start[N_TIMES])
        v_final[b] = v


@njit(**KERNEL)
def peak_kernel(s_in, rows, limit, peak, step, valid):
    """Per sample b and neuron j: the largest V at the end of a step t <= limit[b] with
    events (t <= 254), the earliest such step on equal values; valid[b] False (peak and
    step 0) when no input spiked by then."""
    n_in, n_out = s_in.shape[1], rows.shape[1]
    order, start, fill, v, key = scan_buffers(n_in, rows)
    for b in range(s_in.shape[0]):
        sort_by_time(s_in[b], order, start, fill)
        v[:] = 0
        key[:] = np.iinfo(np.int32).min
        seen = False
        for t in range(min(limit[b], LAST_STEP - 1) + 1):
            if start[t] == start[t + 1]:
                continue
            add_rows(v, rows, order, start[t], start[t + 1])
            seen = True
            late = np.int32(LAST_STEP - t)
            for j in range(n_out):
                key[j] = max(key[j], np.int32(v[j]) * np.int32(256) + late)
        valid[b] = seen
        for j in range(n_out):
            peak[b, j] = key[j] >> 8 if seen else 0
            step[b, j] = LAST_STEP - (key[j] & 0xFF) if seen else 0


def as_times(s: np.ndarray) -> np.ndarray:
    """Spike times as the kernels read them: C-contiguous int16, each in 0..256 (checked:
    the kernels index with them unchecked)."""
    s = np.ascontiguousarray(s, dtype=np.int16)
    if s.size and (s.min() < 0 or s.max() > SILENT):
        raise ValueError(f"spike times must be in 0..{SILENT}, got {s.min()}..{s.max()}")
    return s


def as_rows(wt_pad: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Connection rows (N_in + 1, N_out) for inputs s (B, N_in), C-contiguous (checked)."""
    rows = np.ascontiguousarray(wt_pad)
    if rows.ndim != 2 or rows.shape[0] != s.shape[1] + 1:
        raise ValueError(f"connection rows of shape {rows.shape} for {s.shape[1]} inputs "
                         f"(expected {s.shape[1] + 1} rows)")
    return rows


def forward_rows(s_in: np.ndarray, wt_pad: np.ndarray, theta) -> LayerResult:
    """``model.layer.layer_from_rows`` (V >= theta) compiled, for int16 rows (others: the
    NumPy scan)."""
    s = as_times(s_in)
    rows = as_rows(wt_pad, s)
    if rows.dtype != np.int16:
        return layer_from_rows(s, rows, theta)          # the keys hold int16 potentials
    shape = (len(s), rows.shape[1])
    spikes, v_cross, v_final = (np.empty(shape, np.int16) for _ in range(3))
    theta = min(max(math.ceil(theta), -(1 << 16)), 1 << 16)   # integer V >= theta
    forward_kernel(s, rows, theta, spikes, v_cross, v_final)
    return LayerResult(spikes, v_cross, v_final)


def peak_rows(s_in: np.ndarray, wt_pad: np.ndarray, limit: np.ndarray):
    """``model.layer.peak_before(slot_scan(s_in, wt_pad), limit)`` compiled for int16 rows
    (others: the NumPy scan): (peak float32, step int16, valid bool), each (B, N_out)."""
    s = as_times(s_in)
    rows = as_rows(wt_pad, s)
    B, n_out = len(s), rows.shape[1]
    if rows.dtype != np.int16:
        return peak_before(slot_scan(s, rows), limit)
    peak = np.empty((B, n_out), np.float32)
    step = np.empty((B, n_out), np.int16)
    valid = np.empty(B, np.bool_)
    limit = np.ascontiguousarray(np.broadcast_to(limit, (B,)), dtype=np.int64)
    peak_kernel(s, rows, limit, peak, step, valid)
    return peak, step, np.broadcast_to(valid[:, None], (B, n_out))
