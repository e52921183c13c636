"""A conv layer's forward and peak potentials, event-driven, one sample at a time
(docs/numerics.md, "Convolution", "Neuron", "Per-step compare").

The same integer rules as model.kernels.scan on ``model.conv.conv_rows``, without the dense
(N_in + 1, N_out) matrix: each input event (c_in, iy, ix) adds kernel column
b[:, c_in, ky, kx] to the C_out potentials of every output position (y, x) with
S*y + ky - P = iy and S*x + kx - P = ix (padded positions never receive anything). After a
step's last event only the positions that step touched are compared (an untouched
neuron's V, hence its compare, is that of its last compare), plus every position at a
sample's first step with events (V = 0 >= theta when theta <= 0). Inputs at 255 only
enter V(255); silent inputs (256) never (V(255) is the layer's all-inputs sum less the
silent inputs' when those are fewer).

Potentials are int32 inside and returned as int16, like the dense scan's rows (|V| is at
most the fan-in C_in * K * K; fan-ins of 2^15 or more are refused).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from contract.numerics import LAST_STEP, SILENT

from ..arch import Layer
from ..layer import LayerResult
from . import KERNEL
from .scan import N_TIMES, as_times, sort_by_time


@njit(**KERNEL)
def add_event(v, kt, i, geo, sign, touched, stamp, n_touched, t):
    """v[pos, :] += sign * kt[c_in, ky, kx, :] for every output position input i reaches;
    the positions not yet stamped with step t are stamped and listed in ``touched``.
    geo: (H, W, H_out, W_out, K, S, P). Returns the new number of touched positions."""
    h, w, ho, wo, k, s, p = geo[0], geo[1], geo[2], geo[3], geo[4], geo[5], geo[6]
    ci = i // (h * w)
    r = i - ci * h * w
    iy = r // w
    ix = r - iy * w
    c_out = v.shape[1]
    for ky in range(k):
        yy = iy + p - ky
        if yy < 0 or yy % s != 0 or yy // s >= ho:
            continue
        y = yy // s
        for kx in range(k):
            xx = ix + p - kx
            if xx < 0 or xx % s != 0 or xx // s >= wo:
                continue
            pos = y * wo + xx // s
            col = kt[ci, ky, kx]
            vp = v[pos]
            for c in range(c_out):
                vp[c] += sign * col[c]
            if stamp[pos] != t:
                stamp[pos] = t
                touched[n_touched] = pos
                n_touched += 1
    return n_touched


@njit(**KERNEL)
def step_events(v, kt, order, lo, hi, geo, touched, stamp, t, first):
    """Add the events order[lo:hi] of step t; returns how many positions to compare (all,
    in ``touched``, at a sample's first step)."""
    n = 0
    for e in range(lo, hi):
        n = add_event(v, kt, order[e], geo, 1, touched, stamp, n, t)
    if first:
        for pos in range(v.shape[0]):
            touched[pos] = pos
            stamp[pos] = t
        n = v.shape[0]
    return n


@njit(**KERNEL)
def conv_buffers(n_in, n_pos, c_out):
    """One sample's scratch: input order, per-time starts and fill counts (sort_by_time),
    potentials (position, channel), the positions a step touched and their last step."""
    return (np.empty(n_in, np.intp), np.empty(N_TIMES + 1, np.intp),
            np.empty(N_TIMES + 1, np.intp), np.empty((n_pos, c_out), np.int32),
            np.empty(n_pos, np.intp), np.empty(n_pos, np.int32))


@njit(**KERNEL)
def conv_forward_kernel(s_in, kt, geo, theta, spikes, v_cross, v_final):
    """Fill spikes, v_cross, v_final (B, C_out * H_out * W_out) for inputs s_in (B, N_in)
    under kernels kt (C_in, K, K, C_out)."""
    n_in = s_in.shape[1]
    c_out = kt.shape[3]
    n_pos = geo[2] * geo[3]
    order, start, fill, v, touched, stamp = conv_buffers(n_in, n_pos, c_out)
    t_cross = np.empty((n_pos, c_out), np.int32)
    vc = np.empty((n_pos, c_out), np.int32)
    total = np.zeros((n_pos, c_out), np.int32)      # every input's sum, once needed
    have_total = False
    for b in range(s_in.shape[0]):
        sort_by_time(s_in[b], order, start, fill)
        v[:] = 0
        t_cross[:] = SILENT
        stamp[:] = -1
        first = True
        for t in range(LAST_STEP):
            if start[t] == start[t + 1]:
                continue
            n = step_events(v, kt, order, start[t], start[t + 1], geo, touched, stamp, t, first)
            first = False
            for k in range(n):
                pos = touched[k]
                for c in range(c_out):
                    if t_cross[pos, c] == SILENT and v[pos, c] >= theta:
                        t_cross[pos, c] = t
                        vc[pos, c] = v[pos, c]
        for pos in range(n_pos):
            for c in range(c_out):
                j = c * n_pos + pos
                crossed = t_cross[pos, c] < SILENT
                spikes[b, j] = t_cross[pos, c] + 1 if crossed else SILENT
                v_cross[b, j] = vc[pos, c] if crossed else 0
        late, silent = start[SILENT] - start[LAST_STEP], start[N_TIMES] - start[SILENT]
        if late <= silent:                          # V(255): the inputs at 255 added
            for e in range(start[LAST_STEP], start[SILENT]):
                add_event(v, kt, order[e], geo, 1, touched, stamp, 0, -1)
        else:                                       # or every input less the silent ones
            if not have_total:
                for i in range(n_in):
                    add_event(total, kt, i, geo, 1, touched, stamp, 0, -1)
                have_total = True
            v[:] = total
            for e in range(start[SILENT], start[N_TIMES]):
                add_event(v, kt, order[e], geo, -1, touched, stamp, 0, -1)
        for pos in range(n_pos):
            for c in range(c_out):
                v_final[b, c * n_pos + pos] = v[pos, c]


@njit(**KERNEL)
def conv_peak_kernel(s_in, kt, geo, limit, peak, step, valid):
    """Per sample b and neuron: the largest V at the end of a step t <= limit[b] with
    events (t <= 254), the earliest such step on equal values; valid[b] False (peak and
    step 0) when no input spiked by then."""
    n_in = s_in.shape[1]
    c_out = kt.shape[3]
    n_pos = geo[2] * geo[3]
    order, start, fill, v, touched, stamp = conv_buffers(n_in, n_pos, c_out)
    key = np.empty((n_pos, c_out), np.int32)        # V * 256 + (255 - t), the largest
    for b in range(s_in.shape[0]):
        sort_by_time(s_in[b], order, start, fill)
        v[:] = 0
        key[:] = np.iinfo(np.int32).min
        stamp[:] = -1
        first = True
        for t in range(min(limit[b], LAST_STEP - 1) + 1):
            if start[t] == start[t + 1]:
                continue
            n = step_events(v, kt, order, start[t], start[t + 1], geo, touched, stamp, t, first)
            first = False
            late = np.int32(LAST_STEP - t)
            for k in range(n):
                pos = touched[k]
                for c in range(c_out):
                    key[pos, c] = max(key[pos, c], v[pos, c] * np.int32(256) + late)
        seen = not first
        valid[b] = seen
        for pos in range(n_pos):
            for c in range(c_out):
                j = c * n_pos + pos
                peak[b, j] = key[pos, c] >> 8 if seen else 0
                step[b, j] = LAST_STEP - (key[pos, c] & 0xFF) if seen else 0


def geometry(layer: Layer) -> np.ndarray:
    """(H, W, H_out, W_out, K, S, P) of a conv layer, as the kernels read it."""
    _, h, w = layer.in_shape
    _, ho, wo = layer.out_shape
    return np.array([h, w, ho, wo, layer.kernel, layer.stride, layer.pad], np.int64)


def kernel_columns(kernels: np.ndarray, layer: Layer) -> np.ndarray:
    """Kernels (C_out, C_in, K, K) of +-1 as (C_in, K, K, C_out) int32 columns (checked)."""
    kern = np.asarray(kernels)
    if kern.shape != layer.weight_shape:
        raise ValueError(f"conv kernels of shape {kern.shape}, the layer says "
                         f"{layer.weight_shape}")
    if layer.fan_in >= 1 << 15:
        raise ValueError(f"conv fan-in {layer.fan_in}: potentials beyond int16")
    return np.ascontiguousarray(kern.transpose(1, 2, 3, 0), dtype=np.int32)


def conv_inputs(s_in: np.ndarray, layer: Layer) -> np.ndarray:
    s = as_times(s_in)
    if s.ndim != 2 or s.shape[1] != layer.n_in:
        raise ValueError(f"conv layer of {layer.n_in} inputs given spike times {s.shape}")
    return s


def conv_forward(s_in: np.ndarray, kernels: np.ndarray, layer: Layer, theta) -> LayerResult:
    """``model.layer.layer_from_rows(s_in, model.conv.conv_rows(kernels, layer), theta)``
    compiled: spike times, V at the crossing and V(255), (B, N_out) int16 each."""
    s = conv_inputs(s_in, layer)
    kt = kernel_columns(kernels, layer)
    shape = (len(s), layer.n_out)
    spikes, v_cross, v_final = (np.empty(shape, np.int16) for _ in range(3))
    theta = min(max(math.ceil(theta), -(1 << 30)), 1 << 30)    # integer V >= theta
    conv_forward_kernel(s, kt, geometry(layer), theta, spikes, v_cross, v_final)
    return LayerResult(spikes, v_cross, v_final)


def conv_peaks(s_in: np.ndarray, kernels: np.ndarray, layer: Layer, limit: np.ndarray):
    """``model.kernels.scan.peak_rows(s_in, conv_rows(kernels, layer), limit)`` compiled:
    (peak float32, step int16, valid bool), each (B, N_out)."""
    s = conv_inputs(s_in, layer)
    kt = kernel_columns(kernels, layer)
    B = len(s)
    peak = np.empty((B, layer.n_out), np.float32)
    step = np.empty((B, layer.n_out), np.int16)
    valid = np.empty(B, np.bool_)
    limit = np.ascontiguousarray(np.broadcast_to(limit, (B,)), dtype=np.int64)
    conv_peak_kernel(s, kt, geometry(layer), limit, peak, step, valid)
    return peak, step, np.broadcast_to(valid[:, None], (B, layer.n_out))
