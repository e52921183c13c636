"""S4NN-style real-valued forward pass (Kheradpisheh & Masquelier 2020, arXiv 1910.09495).

Same encoding, same one-step-per-layer timing and same decision as the integer golden model
(docs/numerics.md, "Encoding", "Layer delay", "Decision"), but the weights stay real in the
forward pass:

    V_j(t) = sum_i w[j, i] * [s_i <= t],   s_j = 1 + first t in 0..255 with V_j(t) > thr / fact

(strictly greater, as in the papers). This is a training/comparison mode only: the hardware
runs the binary network (model.network). Potentials are float32 (the compiled kernels of
model.kernels.real_scan and model.kernels.real_conv); for the decision's tie-break they are
rounded to a fixed-point integer (1/1024 units).
"""
from __future__ import annotations

import numpy as np

from contract.numerics import encode_latency

from .arch import Layer, dense_arch
from .decision import decide
from .kernels.real_conv import conv_forward_real
from .kernels.real_scan import forward_rows_real
from .layer import LayerResult, padded_rows
from .network import ForwardResult, concat_results
from .pool import pool_times

V_SCALE = 1024.0   # fixed-point scale for the decision's potential tie-break


def real_layer_forward(s_in: np.ndarray, w: np.ndarray, threshold: float, *,
                       final: bool = True) -> LayerResult:
    """Spike times of one real-valued layer. s_in (B, N_in) in 0..256; w (N_out, N_in) float.

    Returned v_cross / v_final are float32 (unlike the integer layer); ``final=False``
    leaves V(255) out (v_final None).
    """
    w = np.asarray(w, np.float32)
    if w.ndim != 2 or w.shape[1] != np.shape(s_in)[1]:
        raise ValueError(f"weights of shape {w.shape} do not match {np.shape(s_in)[1]} inputs")
    return forward_rows_real(s_in, padded_rows(np.ascontiguousarray(w.T)), threshold,
                             final=final)


def real_conv_forward(s_in: np.ndarray, kernels: np.ndarray, threshold: float,
                      layer: Layer, *, final: bool = True) -> LayerResult:
    """A real-valued conv layer (kernels (C_out, C_in, K, K) float), V > threshold."""
    return conv_forward_real(s_in, kernels, layer, threshold, final=final)


def real_spikes(s_in: np.ndarray, weights, thresholds, arch: list[Layer]) -> list:
    """Per layer of ``arch``: a LayerResult (weight layers; V(255) of the output layer
    only, the one the decision reads) or pooled spike times (pool)."""
    out, s, wl = [], s_in, 0
    for layer in arch:
        if layer.kind == "pool":
            out.append(pool_times(s, layer))
            s = out[-1]
            continue
        w, th = weights[wl], float(thresholds[wl])
        last = wl == len(weights) - 1
        r = (real_layer_forward(s, w, th, final=last) if layer.kind == "dense"
             else real_conv_forward(s, w, th, layer, final=last))
        out.append(r)
        s, wl = r.spikes, wl + 1
    return out


def fixed_point(v: np.ndarray) -> np.ndarray:
    """Float potentials as integers in 1/V_SCALE units (the decision's tie-break)."""
    return np.round(np.asarray(v, np.float64) * V_SCALE).astype(np.int64)


def real_forward_times(s_in: np.ndarray, weights, thresholds,
                       arch: list[Layer] | None = None) -> ForwardResult:
    """Real-valued network on input spike times (B, N0); thresholds are thr / fact per
    weight layer."""
    if len(weights) != len(thresholds):
        raise ValueError(f"{len(weights)} weight matrices but {len(thresholds)} thresholds")
    arch = arch or dense_arch([np.shape(weights[0])[1]] + [np.shape(w)[0] for w in weights])
    outs = real_spikes(s_in, weights, thresholds, arch)
    r = outs[-1]
    spikes = [x if isinstance(x, np.ndarray) else x.spikes for x in outs]
    d = decide(r.spikes, fixed_point(r.v_cross), fixed_point(r.v_final))
    return ForwardResult(spikes, r.v_cross, r.v_final, d)


def real_forward(images: np.ndarray, weights, thresholds, batch: int = 2000,
                 arch: list[Layer] | None = None) -> ForwardResult:
    """Real-valued network on uint8 images (B, N0), in batches."""
    parts = [real_forward_times(encode_latency(images[i:i + batch]), weights, thresholds, arch)
             for i in range(0, len(images), batch)]
    return concat_results(parts)
