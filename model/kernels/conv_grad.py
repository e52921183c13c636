"""A conv layer's backward, compiled (model.conv's ``kernel_grad`` and ``spread_back``):
kernel gradients and errors sent back to the inputs, walking only the non-zero error
entries and, for each, the C_in * K * K inputs of its receptive field (padded offsets
never count). Sums are float64 inside (float32 out; equal to model.conv's up to order).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..arch import Layer
from . import KERNEL
from .conv import geometry
from .scan import as_times


@njit(**KERNEL)
def kernel_grad_kernel(s_in, bound, d, geo, c_in, dK):
    """dK[c, ci, ky, kx] += sum over b, (y, x) of d[b, (c, y, x)] *
    [s_in[b, (ci, S*y + ky - P, S*x + kx - P)] < bound[b, (c, y, x)]]."""
    h, w, ho, wo, k, s, p = geo[0], geo[1], geo[2], geo[3], geo[4], geo[5], geo[6]
    n_pos = ho * wo
    for b in range(d.shape[0]):
        for j in range(d.shape[1]):
            dd = d[b, j]
            if dd == 0:
                continue
            c = j // n_pos
            pos = j - c * n_pos
            y0 = (pos // wo) * s - p
            x0 = (pos % wo) * s - p
            bd = bound[b, j]
            for ci in range(c_in):
                for ky in range(k):
                    iy = y0 + ky
                    if iy < 0 or iy >= h:
                        continue
                    base = (ci * h + iy) * w
                    for kx in range(k):
                        ix = x0 + kx
                        if 0 <= ix < w and s_in[b, base + ix] < bd:
                            dK[c, ci, ky, kx] += dd


@njit(**KERNEL)
def spread_kernel(d, kern, geo, s_in, bound, gated, e):
    """e[b, i] += kernel weight * d[b, j] for every output j input i reaches (times
    [s_in[b, i] < bound[b, j]] when ``gated``)."""
    h, w, ho, wo, k, s, p = geo[0], geo[1], geo[2], geo[3], geo[4], geo[5], geo[6]
    n_pos = ho * wo
    c_in = kern.shape[1]
    for b in range(d.shape[0]):
        for j in range(d.shape[1]):
            dd = d[b, j]
            if dd == 0:
                continue
            c = j // n_pos
            pos = j - c * n_pos
            y0 = (pos // wo) * s - p
            x0 = (pos % wo) * s - p
            bd = bound[b, j] if gated else 0
            for ci in range(c_in):
                for ky in range(k):
                    iy = y0 + ky
                    if iy < 0 or iy >= h:
                        continue
                    base = (ci * h + iy) * w
                    for kx in range(k):
                        ix = x0 + kx
                        if ix < 0 or ix >= w:
                            continue
                        if gated and s_in[b, base + ix] >= bd:
                            continue
                        e[b, base + ix] += kern[c, ci, ky, kx] * dd


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
    dK = np.zeros(layer.weight_shape, np.float64)
    kernel_grad_kernel(s, bound, d, geometry(layer), layer.in_shape[0], dK)
    return dK.astype(np.float32)


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
    spread_kernel(d, kern, geometry(layer), s, bound, gated, e)
    return e.astype(np.float32)
