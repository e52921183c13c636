"""A conv layer's backward, compiled (model.conv's ``kernel_grad`` and ``spread_back``):
kernel gradients and errors sent back to the inputs, walking only the non-zero error
entries and, for each, the C_in * K * K inputs of its receptive field, gathered once per
sample and output position for all its channels (padded offsets never count). Sums are
float64 inside (float32 out; equal to model.conv's up to order).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..arch import Layer
from . import KERNEL
from .conv import geometry
from .scan import as_times


FAR = 32767                 # a padded offset's time: never before any bound


@njit(**KERNEL)
def field_inputs(pos, geo, c_in, idx):
    """idx[(ci, ky, kx)] = the input index at that offset of output position pos (-1 on
    the padding)."""
    h, w, wo, k, s, p = geo[0], geo[1], geo[3], geo[4], geo[5], geo[6]
    y0 = (pos // wo) * s - p
    x0 = (pos % wo) * s - p
    f = 0
    for ci in range(c_in):
        for ky in range(k):
            iy = y0 + ky
            for kx in range(k):
                ix = x0 + kx
                idx[f] = (ci * h + iy) * w + ix if 0 <= iy < h and 0 <= ix < w else -1
                f += 1


@njit(**KERNEL)
def gather_field(s_row, pos, geo, c_in, idx, field):
    """field[(ci, ky, kx)] = the input time at that offset of output position pos (FAR on
    the padding); idx receives the input indices (field_inputs)."""
    field_inputs(pos, geo, c_in, idx)
    for f in range(len(field)):
        field[f] = s_row[idx[f]] if idx[f] >= 0 else FAR


@njit(**KERNEL)
def kernel_grad_kernel(s_in, bound, d, geo, c_in, dK):
    """dK[c, (ci, ky, kx)] += sum over b, (y, x) of d[b, (c, y, x)] *
    [s_in[b, (ci, S*y + ky - P, S*x + kx - P)] < bound[b, (c, y, x)]]; dK (C_out, F)."""
    n_pos = geo[2] * geo[3]
    c_out, F = dK.shape
    field = np.empty(F, np.int32)
    idx = np.empty(F, np.intp)
    for b in range(d.shape[0]):
        for pos in range(n_pos):
            gathered = False
            for c in range(c_out):
                j = c * n_pos + pos
                dd = d[b, j]
                if dd == 0:
                    continue
                if not gathered:
                    gather_field(s_in[b], pos, geo, c_in, idx, field)
                    gathered = True
                bd = np.int32(bound[b, j])
                row = dK[c]
                for f in range(F):
                    row[f] += dd * (field[f] < bd)


@njit(**KERNEL)
def spread_kernel(d, kern, geo, s_in, bound, gated, e):
    """e[b, i] += kernel weight * d[b, j] for every output j input i reaches (times
    [s_in[b, i] < bound[b, j]] when ``gated``); kern (C_out, F)."""
    k = geo[4]
    n_pos = geo[2] * geo[3]
    c_out, F = kern.shape
    c_in = F // (k * k)
    field = np.zeros(F, np.int32)
    idx = np.empty(F, np.intp)
    acc = np.empty(F, np.float64)
    for b in range(d.shape[0]):
        for pos in range(n_pos):
            any_error = False
            for c in range(c_out):
                dd = d[b, c * n_pos + pos]
                if dd == 0:
                    continue
                if not any_error:
                    acc[:] = 0
                    if gated:
                        gather_field(s_in[b], pos, geo, c_in, idx, field)
                    any_error = True
                bd = np.int32(bound[b, c * n_pos + pos]) if gated else np.int32(FAR + 1)
                row = kern[c]
                for f in range(F):
                    acc[f] += row[f] * dd * (field[f] < bd)
            if not any_error:
                continue
            field_inputs(pos, geo, c_in, idx)
            for f in range(F):
                if idx[f] >= 0:
                    e[b, idx[f]] += acc[f]


def _errors(d: np.ndarray, layer: Layer) -> np.ndarray:
    d = np.ascontiguousarray(d, dtype=np.float32)
    if d.ndim != 2 or d.shape[1] != layer.n_out:
        raise ValueError(f"conv layer of {layer.n_out} outputs given errors {d.shape}")
    return d


def conv_kernel_grad(s_in: np.ndarray, bound: np.ndarray, d: np.ndarray,
                     layer: Layer) -> np.ndarray:
    """``model.conv.kernel_grad`` compiled: (C_out, C_in, K, K) float32."""
    d = _errors(d, layer)
    s = as_times(s_in)
    bound = np.ascontiguousarray(bound, dtype=np.int16)
    if s.shape != (len(d), layer.n_in) or bound.shape != d.shape:
        raise ValueError(f"conv_kernel_grad: s_in {s.shape}, bound {bound.shape} and d "
                         f"{d.shape} do not match the layer")
    dK = np.zeros((layer.out_shape[0], layer.fan_in), np.float64)
    kernel_grad_kernel(s, bound, d, geometry(layer), layer.in_shape[0], dK)
    return dK.reshape(layer.weight_shape).astype(np.float32)


def conv_spread_back(d: np.ndarray, kernels: np.ndarray, layer: Layer, s_in=None,
                     bound=None) -> np.ndarray:
    """``model.conv.spread_back`` compiled: (B, N_in) float32."""
    d = _errors(d, layer)
    kern = np.ascontiguousarray(kernels, dtype=np.float64)
    if kern.shape != layer.weight_shape:
        raise ValueError(f"conv kernels of shape {kern.shape}, the layer says "
                         f"{layer.weight_shape}")
    gated = s_in is not None
    s = as_times(s_in) if gated else np.zeros((1, 1), np.int16)
    bound = (np.ascontiguousarray(bound, dtype=np.int16) if gated
             else np.zeros((1, 1), np.int16))
    if gated and (s.shape != (len(d), layer.n_in) or bound.shape != d.shape):
        raise ValueError(f"conv_spread_back: s_in {s.shape}, bound {bound.shape} and d "
                         f"{d.shape} do not match the layer")
    e = np.zeros((len(d), layer.n_in), np.float64)
    spread_kernel(d, kern.reshape(len(kern), -1), geometry(layer), s, bound, gated, e)
    return e.astype(np.float32)
