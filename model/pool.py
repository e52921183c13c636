"""Pooling on spike times (docs/numerics.md, "Pooling"): each output is the earliest spike
of its K x K window (stride K), 256 if the window is silent, with no step of delay. The
backward routes a window's error to one of its inputs (``route``, ``unpool``)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .arch import Layer


@lru_cache(maxsize=32)
def windows(layer: Layer) -> np.ndarray:
    """(N_out, K * K) input indices of each output's window (C order on both sides)."""
    c, h, w = layer.in_shape
    _, ho, wo = layer.out_shape
    k = layer.kernel
    y = (k * np.arange(ho)[:, None] + np.arange(k)[None, :])              # (ho, k)
    x = (k * np.arange(wo)[:, None] + np.arange(k)[None, :])              # (wo, k)
    idx = (np.arange(c)[:, None, None, None, None] * h * w
           + y[None, :, None, :, None] * w + x[None, None, :, None, :])
    win = idx.reshape(c * ho * wo, k * k)
    win.flags.writeable = False
    return win


def pool_times(s: np.ndarray, layer: Layer) -> np.ndarray:
    """(B, N_in) spike times -> (B, N_out) earliest spike per window (256 if none)."""
    return np.asarray(s)[:, windows(layer)].min(axis=2)


def route(score: np.ndarray, layer: Layer, *, lowest: bool = False) -> np.ndarray:
    """(B, N_out) input index that each window's error goes to: the window's highest
    ``score`` (its lowest with ``lowest``), the first one on equal values."""
    win = windows(layer)
    g = np.asarray(score)[:, win]                                          # (B, N_out, K*K)
    k = g.argmin(axis=2) if lowest else g.argmax(axis=2)
    return win[np.arange(len(win))[None, :], k]


def unpool(delta: np.ndarray, chosen: np.ndarray, n_in: int) -> np.ndarray:
    """(B, N_out) errors placed at the chosen inputs (windows do not overlap) -> (B, N_in)."""
    out = np.zeros((len(delta), n_in), np.float32)
    np.put_along_axis(out, chosen, np.asarray(delta, np.float32), axis=1)
    return out
