"""The temporal straight-through product sum_b e[b, j] [s_in[b, i] < s_out[b, j]] and the
sign-weighted mean of a gradient, compiled.

Per sample the inputs are counting-sorted by time, so the inputs before a neuron's time
s_out[b, j] are a prefix of that order: e[b, j] is added to those entries of row j of dW,
for the neurons with a non-zero e only. Each entry sums its samples in order (float32).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from contract.numerics import SILENT

from . import KERNEL
from .scan import N_TIMES, as_times, sort_by_time


@njit(**KERNEL)
def grad_kernel(s_in, s_out, e, dW):
    """dW (N_out, N_in) += sum_b e[b, j] [s_in[b, i] < s_out[b, j]]."""
    order = np.empty(s_in.shape[1], np.intp)
    start = np.empty(N_TIMES + 1, np.intp)
    fill = np.empty(N_TIMES + 1, np.intp)
    for b in range(s_in.shape[0]):
        sort_by_time(s_in[b], order, start, fill)
        for j in range(s_out.shape[1]):
            ej = e[b, j]
            if ej == 0:
                continue
            row = dW[j]
            for k in range(start[min(max(s_out[b, j], 0), SILENT + 1)]):
                row[order[k]] += ej


@njit(fastmath={"reassoc"}, **KERNEL)
def signed_sum_kernel(w, dW):
    """sum of dW where w >= 0 less the sum where w < 0 (float64, in any order)."""
    total = 0.0
    for j in range(w.shape[0]):
        for i in range(w.shape[1]):
            total += dW[j, i] if w[j, i] >= 0 else -dW[j, i]
    return total


def grad_before(s_in: np.ndarray, s_out: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``model.rules.temporal_grad.grad_sparse_inputs`` compiled: (N_out, N_in) float32."""
    s = as_times(s_in)
    s_out = np.ascontiguousarray(s_out, dtype=np.int16)
    e = np.ascontiguousarray(e, dtype=np.float32)
    if s_out.shape != e.shape or len(s_out) != len(s):
        raise ValueError(f"grad_before: s_in {s.shape}, s_out {s_out.shape} and e {e.shape} "
                         "do not match")
    dW = np.zeros((s_out.shape[1], s.shape[1]), np.float32)
    grad_kernel(s, s_out, e, dW)
    return dW


def signed_mean(w: np.ndarray, dW: np.ndarray) -> float:
    """mean(sign(w) * dW), sign(0) = +1 (the bs4nn rule's threshold-scale gradient)."""
    w2, d2 = np.asarray(w).reshape(len(w), -1), np.asarray(dW).reshape(len(dW), -1)
    return float(signed_sum_kernel(w2, d2)) / dW.size
