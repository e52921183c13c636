"""Binary convolution on spike times (docs/numerics.md, "Convolution").

A convolutional layer is a dense layer whose (N_in, N_out) connection matrix is sparse:
input (c_in, S*y + ky - P, S*x + kx - P) reaches output (c, y, x) with weight
b[c, c_in, ky, kx], padded positions reach nothing. The NumPy reference runs the event/slot
scan of model.layer on that matrix (``conv_rows``), so a conv neuron follows exactly the
same integer rules as a dense one; it is the reference of the compiled event-driven conv
kernels (model.kernels.conv, model.kernels.conv_grad) that the training and the golden
forward run, and the export's connection matrix. The backward works on receptive fields
(``receptive_fields``: for each output position, the C_in * K * K input indices, N_in for a
padded position, whose spike time is taken as 256): kernel gradients (``kernel_grad``) and
errors sent back to the inputs (``spread_back``) touch only the non-zero error entries.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from contract.numerics import SILENT

from .arch import Layer
from .kernels.scan import forward_rows, peak_rows

BLOCK = 1 << 21          # gathered (entry, kernel offset) pairs per block of the backward


@lru_cache(maxsize=32)
def receptive_fields(layer: Layer) -> np.ndarray:
    """(H_out * W_out, C_in * K * K) input indices of each output position (kernel offsets
    in (c_in, ky, kx) order); N_in where the offset falls on the zero padding."""
    c_in, h, w = layer.in_shape
    _, ho, wo = layer.out_shape
    k, s, p = layer.kernel, layer.stride, layer.pad
    y = (s * np.arange(ho)[:, None] + np.arange(k)[None, :] - p)          # (ho, k)
    x = (s * np.arange(wo)[:, None] + np.arange(k)[None, :] - p)          # (wo, k)
    iy = y[:, None, None, :, None]                                        # (ho,1,1,k,1)
    ix = x[None, :, None, None, :]                                        # (1,wo,1,1,k)
    ci = np.arange(c_in)[None, None, :, None, None]
    idx = ci * h * w + iy * w + ix
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    rf = np.where(ok, idx, c_in * h * w).reshape(ho * wo, c_in * k * k)
    rf.flags.writeable = False
    return rf


@lru_cache(maxsize=32)
def _connections(layer: Layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The real (non-padding) connections: (input index, output position, kernel offset)."""
    rf = receptive_fields(layer)
    pos, off = np.nonzero(rf < layer.n_in)
    return rf[pos, off], pos, off


def conv_rows(kernels: np.ndarray, layer: Layer, dtype=np.int16) -> np.ndarray:
    """The layer as ``model.layer.padded_rows``: (N_in + 1, N_out) connection matrix of
    ``kernels`` (C_out, C_in, K, K), output index c * H_out * W_out + position, with the
    zero row that padding events add."""
    c_out = layer.out_shape[0]
    n_pos = layer.n_out // c_out
    inp, pos, off = _connections(layer)
    kern = np.asarray(kernels).reshape(c_out, -1).astype(dtype)
    rows = np.zeros((layer.n_in + 1, layer.n_out), dtype)
    cols = np.arange(c_out)[None, :] * n_pos + pos[:, None]               # (pairs, C_out)
    rows[inp[:, None], cols] = kern[:, off].T
    return rows


def _entries(d: np.ndarray, layer: Layer):
    """Non-zero entries of d (B, N_out), channel-major, in blocks:
    (channel, sample, position, flat output index) arrays per block."""
    c_out = layer.out_shape[0]
    n_pos = layer.n_out // c_out
    B = len(d)
    c, b, p = np.nonzero(d.reshape(B, c_out, n_pos).transpose(1, 0, 2))
    step = max(1, BLOCK // max(1, receptive_fields(layer).shape[1]))
    for lo in range(0, len(c), step):
        sl = slice(lo, lo + step)
        yield c[sl], b[sl], p[sl], c[sl] * n_pos + p[sl]


def _padded(s_in: np.ndarray) -> np.ndarray:
    s = np.asarray(s_in, np.int16)
    return np.concatenate([s, np.full((len(s), 1), SILENT, np.int16)], axis=1)


def kernel_grad(s_in: np.ndarray, bound: np.ndarray, d: np.ndarray, layer: Layer) -> np.ndarray:
    """dK[c, c_in, ky, kx] = sum over samples b and positions (y, x) of
    d[b, (c, y, x)] * [s_in[b, (c_in, S*y + ky - P, S*x + kx - P)] < bound[b, (c, y, x)]]
    (padded inputs never count). Shapes: s_in (B, N_in), bound and d (B, N_out)."""
    rf = receptive_fields(layer)
    s_pad = _padded(s_in)
    d = np.asarray(d, np.float32)
    dK = np.zeros((layer.out_shape[0], rf.shape[1]), np.float32)
    for c, b, p, j in _entries(d, layer):
        h = s_pad[b[:, None], rf[p]] < np.asarray(bound)[b, j][:, None]   # (n, F)
        v = h * d[b, j][:, None]
        uc, starts = np.unique(c, return_index=True)
        dK[uc] += np.add.reduceat(v, starts, axis=0)
    return dK.reshape(layer.weight_shape)


def spread_back(d: np.ndarray, kernels: np.ndarray, layer: Layer, s_in=None,
                bound=None) -> np.ndarray:
    """Errors d (B, N_out) sent back through the connections: e[b, i] = sum over the
    outputs j that input i reaches of kernel weight * d[b, j] (times [s_in[b, i] <
    bound[b, j]] when given). Returns (B, N_in) float32."""
    rf = receptive_fields(layer)
    B, n_in = len(d), layer.n_in
    kern = np.asarray(kernels, np.float32).reshape(layer.out_shape[0], -1)
    d = np.asarray(d, np.float32)
    s_pad = None if s_in is None else _padded(s_in)
    out = np.zeros(B * (n_in + 1), np.float64)
    for c, b, p, j in _entries(d, layer):
        v = kern[c] * d[b, j][:, None]                                     # (n, F)
        if s_pad is not None:
            v = v * (s_pad[b[:, None], rf[p]] < np.asarray(bound)[b, j][:, None])
        at = b[:, None] * (n_in + 1) + rf[p]
        out += np.bincount(at.ravel(), weights=v.ravel(), minlength=len(out))
    return out.reshape(B, n_in + 1)[:, :n_in].astype(np.float32)


@lru_cache(maxsize=8)
def _rows_of(kernel_bytes: bytes, layer: Layer) -> np.ndarray:
    kern = np.frombuffer(kernel_bytes, np.int8).reshape(layer.weight_shape)
    return conv_rows(kern, layer)


def reference_rows(kernels: np.ndarray, layer: Layer) -> np.ndarray:
    """``conv_rows`` of +-1 kernels, kept for the last few kernels seen (once per training
    step, as the dense path built them)."""
    return _rows_of(np.ascontiguousarray(kernels, np.int8).tobytes(), layer)


def reference_forward(s_in: np.ndarray, kernels: np.ndarray, layer: Layer, theta):
    """The dense path that model.kernels.conv replaces: the compiled dense scan
    (model.kernels.scan.forward_rows) on ``conv_rows``. A model.layer.LayerResult."""
    return forward_rows(s_in, reference_rows(kernels, layer), theta)


def reference_peaks(s_in: np.ndarray, kernels: np.ndarray, layer: Layer, limit):
    """The dense path's peaks (model.kernels.scan.peak_rows on ``conv_rows``)."""
    return peak_rows(s_in, reference_rows(kernels, layer), limit)
