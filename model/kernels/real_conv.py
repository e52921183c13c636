"""The real-valued (S4NN, ``--real``) conv layer's forward and peak potentials, compiled:
model.kernels.conv with float32 kernels and potentials.

Each input event adds its kernel column to the positions it reaches (``add_event``, the
integer kernels' own), in the event order of the dense scan (time, then input index), so
a neuron's potential at a step end is the same float32 sequential sum as
``model.layer.layer_from_rows`` on ``model.conv.conv_rows(kernels, layer, np.float32)``:
spike times, V at the crossing and the peaks equal that reference bit for bit; V(255)
adds the inputs at 255 to V(254) (the reference's dense product sums in another order).
A neuron fires at 1 + the first step t <= 254 with V > threshold (strictly).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from contract.numerics import LAST_STEP, SILENT

from ..arch import Layer
from ..layer import LayerResult
from . import KERNEL
from .conv import add_event, conv_inputs, geometry, step_events
from .scan import N_TIMES, sort_by_time


@njit(**KERNEL)
def real_conv_buffers(n_in, n_pos, c_out):
    """One sample's scratch: input order, per-time starts and fill counts, float32
    potentials (position, channel), the positions a step touched and their last step."""
    return (np.empty(n_in, np.intp), np.empty(N_TIMES + 1, np.intp),
            np.empty(N_TIMES + 1, np.intp), np.empty((n_pos, c_out), np.float32),
            np.empty(n_pos, np.intp), np.empty(n_pos, np.int32))


@njit(**KERNEL)
def real_conv_forward_kernel(s_in, kt, geo, threshold, spikes, v_cross, v_final, final):
    """Fill spikes, v_cross and, when ``final``, v_final (B, C_out * H_out * W_out) for
    inputs s_in (B, N_in) under float32 kernels kt (C_in, K, K, C_out): V > threshold
    (float32)."""
    n_in, c_out = s_in.shape[1], kt.shape[3]
    n_pos = geo[2] * geo[3]
    order, start, fill, v, touched, stamp = real_conv_buffers(n_in, n_pos, c_out)
    t_cross = np.empty((n_pos, c_out), np.int32)
    vc = np.empty((n_pos, c_out), np.float32)
    one = np.float32(1)
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
                    if t_cross[pos, c] == SILENT and v[pos, c] > threshold:
                        t_cross[pos, c] = t
                        vc[pos, c] = v[pos, c]
        for pos in range(n_pos):
            for c in range(c_out):
                j = c * n_pos + pos
                crossed = t_cross[pos, c] < SILENT
                spikes[b, j] = t_cross[pos, c] + 1 if crossed else SILENT
                v_cross[b, j] = vc[pos, c] if crossed else 0
        if not final:
            continue
        for e in range(start[LAST_STEP], start[SILENT]):       # V(255): the inputs at 255
            add_event(v, kt, order[e], geo, one, touched, stamp, 0, -1)
        for pos in range(n_pos):
            for c in range(c_out):
                v_final[b, c * n_pos + pos] = v[pos, c]


@njit(**KERNEL)
def real_conv_peak_kernel(s_in, kt, geo, limit, peak, step, valid):
    """Per sample b and neuron: the largest V at the end of a step t <= limit[b] with
    events (t <= 254), the earliest such step on equal values; valid[b] False (peak and
    step 0) when no input spiked by then."""
    n_in, c_out = s_in.shape[1], kt.shape[3]
    n_pos = geo[2] * geo[3]
    order, start, fill, v, touched, stamp = real_conv_buffers(n_in, n_pos, c_out)
    best = np.empty((n_pos, c_out), np.float32)
    at = np.empty((n_pos, c_out), np.int16)
    for b in range(s_in.shape[0]):
        sort_by_time(s_in[b], order, start, fill)
        v[:] = 0
        best[:] = -np.inf
        at[:] = 0
        stamp[:] = -1
        first = True
        for t in range(min(limit[b], LAST_STEP - 1) + 1):
            if start[t] == start[t + 1]:
                continue
            n = step_events(v, kt, order, start[t], start[t + 1], geo, touched, stamp, t, first)
            first = False
            for k in range(n):
                pos = touched[k]
                for c in range(c_out):
                    if v[pos, c] > best[pos, c]:
                        best[pos, c] = v[pos, c]
                        at[pos, c] = t
        seen = not first
        valid[b] = seen
        for pos in range(n_pos):
            for c in range(c_out):
                j = c * n_pos + pos
                peak[b, j] = best[pos, c] if seen else 0
                step[b, j] = at[pos, c] if seen else 0


def float_columns(kernels: np.ndarray, layer: Layer) -> np.ndarray:
    """Real kernels (C_out, C_in, K, K) as (C_in, K, K, C_out) float32 columns (checked)."""
    kern = np.asarray(kernels)
    if kern.shape != layer.weight_shape:
        raise ValueError(f"conv kernels of shape {kern.shape}, the layer says "
                         f"{layer.weight_shape}")
    return np.ascontiguousarray(kern.transpose(1, 2, 3, 0), dtype=np.float32)


def conv_forward_real(s_in: np.ndarray, kernels: np.ndarray, layer: Layer,
                      threshold: float, *, final: bool = True) -> LayerResult:
    """``layer_from_rows(s_in, conv_rows(kernels, layer, np.float32), threshold,
    strict=True)`` compiled: spike times int16, V at the crossing and V(255) float32
    (``final=False``: v_final None; the inputs at 255, most of an image's, not added)."""
    s = conv_inputs(s_in, layer)
    shape = (len(s), layer.n_out)
    spikes = np.empty(shape, np.int16)
    v_cross = np.empty(shape, np.float32)
    v_final = np.empty(shape if final else (len(s), 0), np.float32)
    real_conv_forward_kernel(s, float_columns(kernels, layer), geometry(layer),
                             np.float32(threshold), spikes, v_cross, v_final, final)
    return LayerResult(spikes, v_cross, v_final if final else None)


def conv_peaks_real(s_in: np.ndarray, kernels: np.ndarray, layer: Layer, limit: np.ndarray):
    """``peak_before(slot_scan(s_in, conv_rows(kernels, layer, np.float32)), limit)``
    compiled: (peak float32, step int16, valid bool), each (B, N_out)."""
    s = conv_inputs(s_in, layer)
    B = len(s)
    peak = np.empty((B, layer.n_out), np.float32)
    step = np.empty((B, layer.n_out), np.int16)
    valid = np.empty(B, np.bool_)
    limit = np.ascontiguousarray(np.broadcast_to(limit, (B,)), dtype=np.int64)
    real_conv_peak_kernel(s, float_columns(kernels, layer), geometry(layer), limit, peak,
                          step, valid)
    return peak, step, np.broadcast_to(valid[:, None], (B, layer.n_out))
