"""The optimizer's step on a block of latent weight rows, and the latent weights' signs as
the forward's connection rows, compiled.

The Adam step does, element by element in float32, what model.optim's in-place NumPy
sequence does: m = b1 m + (1 - b1) g; v = b2 v + ((1 - b2) g) g;
W -= (lr (m / c1)) / (sqrt(v / c2) + eps), then the clipping.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def adam_kernel(W, dW, m, v, b1, b2, one_b1, one_b2, c1, c2, eps, lr, clip):
    """Rows of float32 (N, ...) arrays updated in place; float32 scalars (one_b1 = 1 - b1
    and c1 = 1 - b1^steps rounded from float64, as NumPy does); clip 0 = none."""
    W2, g2 = W.reshape(W.shape[0], -1), dW.reshape(dW.shape[0], -1)
    m2, v2 = m.reshape(m.shape[0], -1), v.reshape(v.shape[0], -1)
    for r in range(W2.shape[0]):
        for i in range(W2.shape[1]):
            g = g2[r, i]
            mi = m2[r, i] * b1 + one_b1 * g
            vi = v2[r, i] * b2 + (one_b2 * g) * g
            m2[r, i], v2[r, i] = mi, vi
            w = W2[r, i] - (mi / c1 * lr) / (np.sqrt(vi / c2) + eps)
            if clip:
                w = min(max(w, -clip), clip)
            W2[r, i] = w


@njit(nogil=True, cache=True)
def sgd_kernel(W, dW, lr, clip):
    """W -= lr dW, then the clipping (clip 0 = none), in place on float32 rows."""
    W2, g2 = W.reshape(W.shape[0], -1), dW.reshape(dW.shape[0], -1)
    for r in range(W2.shape[0]):
        for i in range(W2.shape[1]):
            w = W2[r, i] - lr * g2[r, i]
            if clip:
                w = min(max(w, -clip), clip)
            W2[r, i] = w


@njit(nogil=True, cache=True)
def sign_rows_kernel(W, rows):
    """rows[i, j] = +1 if W[j, i] >= 0 else -1 for i < N_in; the last row zero."""
    for j in range(W.shape[0]):
        for i in range(W.shape[1]):
            rows[i, j] = 1 if W[j, i] >= 0 else -1
    rows[W.shape[1]] = 0


def sign_rows(W: np.ndarray) -> np.ndarray:
    """``model.layer.padded_rows(binarize(W).T)`` as int16: (N_in + 1, N_out)."""
    rows = np.empty((W.shape[1] + 1, W.shape[0]), np.int16)
    sign_rows_kernel(np.ascontiguousarray(W), rows)
    return rows
