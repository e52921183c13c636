"""Shared pieces of the training rules' backward passes: per-sample error normalisation and
the temporal straight-through product sum_b e[b, j] * [s_in[b, i] < s_out[b, j]] in NumPy
(the rules run its compiled twin, model.kernels.grad.grad_before; this is its reference)."""
from __future__ import annotations

import numpy as np

from contract.numerics import SILENT, T


def normalise(e: np.ndarray) -> np.ndarray:
    """Scale each row (sample) to unit L2 norm; zero rows stay zero."""
    n = np.sqrt((e * e).sum(axis=1, keepdims=True))
    return np.where(n > 0, e / np.where(n > 0, n, 1), 0).astype(np.float32)


def grad_sparse_inputs(s_in: np.ndarray, s_out: np.ndarray, e: np.ndarray) -> np.ndarray:
    """dW[j, i] = sum_b e[b, j] * [s_in[b, i] < s_out[b, j]] for mostly-late inputs.

    Only inputs that spiked before step 255 can precede a spike (times <= 255), and only
    neurons with a non-zero e contribute: per sample, the (early inputs x those neurons)
    block is added in place (whole rows of dW^T when most neurons have an error, else the
    block through flat indices; samples in order). The pairs (input at 255, silent neuron)
    are a dense product added last.
    Shapes: s_in (B, N_in), s_out (B, N_out), e (B, N_out) -> (N_out, N_in).
    """
    B, n_in = s_in.shape
    n_out = s_out.shape[1]
    e = np.asarray(e, np.float32)
    dWt = np.zeros((n_in, n_out), np.float32)
    flat = dWt.reshape(-1)
    zero = np.float32(0)
    for b in range(B):
        act = np.flatnonzero(s_in[b] < T - 1)                        # early inputs
        cols = np.flatnonzero(e[b])
        if not len(act) or not len(cols):
            continue
        if 3 * len(cols) > n_out:                                    # rows of dWt
            dWt[act] += np.where(s_in[b, act][:, None] < s_out[b][None, :], e[b][None, :], zero)
        else:                                                        # a sparse block
            before = s_in[b, act][:, None] < s_out[b, cols][None, :]
            at = (act[:, None] * n_out + cols[None, :]).ravel()
            flat[at] += np.where(before, e[b, cols][None, :], zero).ravel()
    late = (s_in >= T - 1) & (s_in < SILENT)                         # inputs at 255
    silent_e = np.where(s_out >= SILENT, e, 0).astype(np.float32)    # neurons never fired
    if late.any() and silent_e.any():
        dWt += late.T.astype(np.float32) @ silent_e
    return np.ascontiguousarray(dWt.T)
