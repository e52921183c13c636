"""Shared pieces of the training rules' backward passes: per-sample error normalisation and
the temporal straight-through product sum_b e[b, j] * [s_in[b, i] < s_out[b, j]]."""
from __future__ import annotations

import numpy as np

from contract.numerics import SILENT, T


def normalise(e: np.ndarray) -> np.ndarray:
    """Scale each row (sample) to unit L2 norm; zero rows stay zero."""
    n = np.sqrt((e * e).sum(axis=1, keepdims=True))
    return np.where(n > 0, e / np.where(n > 0, n, 1), 0).astype(np.float32)


def grad_sparse_inputs(s_in: np.ndarray, s_out: np.ndarray, e: np.ndarray) -> np.ndarray:
    """dW[j, i] = sum_b e[b, j] * [s_in[b, i] < s_out[b, j]] for mostly-late inputs.

    Only inputs that spiked before step 255 can precede a spike (times <= 255), so they are
    gathered as (b, i) pairs; the pairs (input at 255, silent neuron) are a dense product.
    Shapes: s_in (B, N_in), s_out (B, N_out), e (B, N_out) -> (N_out, N_in).
    """
    B, n_in = s_in.shape
    n_out = s_out.shape[1]
    early = s_in < T - 1                                            # (B, N_in)
    ii, bb = np.nonzero(early.T)                                     # pairs sorted by input i
    dWt = np.zeros((n_in, n_out), np.float32)
    if len(ii):
        g = np.where(s_out[bb] > s_in[bb, ii][:, None], e[bb], 0)   # (P, N_out)
        starts = np.flatnonzero(np.r_[True, ii[1:] != ii[:-1]])
        dWt[ii[starts]] = np.add.reduceat(g, starts, axis=0)
    late = (s_in >= T - 1) & (s_in < SILENT)                         # inputs at 255
    silent_e = np.where(s_out >= SILENT, e, 0).astype(np.float32)    # neurons never fired
    if late.any() and silent_e.any():
        dWt += late.T.astype(np.float32) @ silent_e
    return dWt.T
