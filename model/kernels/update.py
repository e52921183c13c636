"""The optimizer's step on a block of latent weight rows, and the latent weights' signs as
the forward's connection rows, compiled.

The Adam step does, element by element in float32, what model.optim's in-place NumPy
sequence does: m = b1 m + (1 - b1) g; v = b2 v + ((1 - b2) g) g;
W -= (lr (m / c1)) / (sqrt(v / c2) + eps), then the clipping.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import KERNEL


@njit(**KERNEL)
def adam_kernel(W, dW, m, v, b1, b2, one_b1, one_b2, c1, c2, eps, lr, low, high):
    """Flat float32 arrays updated in place; float32 scalars (one_b1 = 1 - b1 and
    c1 = 1 - b1^steps rounded from float64, as NumPy does); W kept in [low, high]."""
    for i in range(W.shape[0]):
        g = dW[i]
        mi = m[i] * b1 + one_b1 * g
        vi = v[i] * b2 + (one_b2 * g) * g
        m[i] = mi
        v[i] = vi
        w = W[i] - (mi / c1 * lr) / (np.sqrt(vi / c2) + eps)
        w = low if w < low else w                     # np.clip, NaN kept
        W[i] = high if w > high else w


@njit(**KERNEL)
def sgd_kernel(W, dW, lr, low, high):
    """W -= lr dW, kept in [low, high], in place on flat float32 arrays."""
    for i in range(W.shape[0]):
        w = W[i] - lr * dW[i]
        w = low if w < low else w
        W[i] = high if w > high else w


@njit(**KERNEL)
def sign_rows_kernel(W, rows):
    """rows[i, j] = +1 if W[j, i] >= 0 else -1, 16 rows of ``rows`` per pass over W's rows
    (one cache line of each)."""
    n_out, n_in = W.shape
    full = n_in - n_in % 16
    for i0 in range(0, full, 16):
        for j in range(n_out):
            w = W[j]
            for d in range(16):
                rows[i0 + d, j] = 1 if w[i0 + d] >= 0 else -1
    for i in range(full, n_in):
        for j in range(n_out):
            rows[i, j] = 1 if W[j, i] >= 0 else -1


def sign_rows(W: np.ndarray) -> np.ndarray:
    """``model.layer.padded_rows(binarize(W).T)`` as int16: (N_in + 1, N_out)."""
    rows = np.empty((W.shape[1] + 1, W.shape[0]), np.int16)
    rows[-1] = 0
    sign_rows_kernel(np.ascontiguousarray(W), rows)
    return rows
