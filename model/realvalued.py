"""S4NN-style real-valued forward pass (Kheradpisheh & Masquelier 2020, arXiv 1910.09495).

Same encoding, same one-step-per-layer timing and same decision as the integer golden model
(docs/numerics.md, "Encoding", "Layer delay", "Decision"), but the weights stay real in the
forward pass:

    V_j(t) = sum_i w[j, i] * [s_i <= t],   s_j = 1 + first t in 0..255 with V_j(t) > thr / fact

(strictly greater, as in the papers). This is a training/comparison mode only: the hardware
runs the binary network (model.network). Potentials are float32; for the decision's
tie-break they are rounded to a fixed-point integer (1/1024 units).
"""
from __future__ import annotations

import numpy as np

from .decision import decide
from contract.numerics import encode_latency
from .layer import LayerResult, layer_forward
from .network import ForwardResult, concat_results

V_SCALE = 1024.0   # fixed-point scale for the decision's potential tie-break


def real_layer_forward(s_in: np.ndarray, w: np.ndarray, threshold: float) -> LayerResult:
    """Spike times of one real-valued layer. s_in (B, N_in) in 0..256; w (N_out, N_in) float.

    Returned v_cross / v_final are float32 (unlike the integer layer).
    """
    w = np.asarray(w, np.float32)
    if w.ndim != 2 or w.shape[1] != np.shape(s_in)[1]:
        raise ValueError(f"weights of shape {w.shape} do not match {np.shape(s_in)[1]} inputs")
    return layer_forward(s_in, w, threshold, strict=True, dtype=np.float32)


def fixed_point(v: np.ndarray) -> np.ndarray:
    """Float potentials as integers in 1/V_SCALE units (the decision's tie-break)."""
    return np.round(np.asarray(v, np.float64) * V_SCALE).astype(np.int64)


def real_forward_times(s_in: np.ndarray, weights, thresholds) -> ForwardResult:
    """Real-valued network on input spike times (B, N0); thresholds are thr / fact per layer."""
    if len(weights) != len(thresholds):
        raise ValueError(f"{len(weights)} weight matrices but {len(thresholds)} thresholds")
    spikes, s = [], s_in
    for w, th in zip(weights, thresholds):
        r = real_layer_forward(s, w, float(th))
        spikes.append(r.spikes)
        s = r.spikes
    d = decide(r.spikes, fixed_point(r.v_cross), fixed_point(r.v_final))
    return ForwardResult(spikes, r.v_cross, r.v_final, d)


def real_forward(images: np.ndarray, weights, thresholds, batch: int = 2000) -> ForwardResult:
    """Real-valued network on uint8 images (B, N0), in batches."""
    parts = [real_forward_times(encode_latency(images[i:i + batch]), weights, thresholds)
             for i in range(0, len(images), batch)]
    return concat_results(parts)
