"""The integer golden model: a stack of binary IF layers and the decision (docs/numerics.md,
"Time" to "No-spike fallback").

This is what the hardware must reproduce bit for bit. Weights are (out, in) matrices of
+-1 (int8), or (C_out, C_in, K, K) kernels for a conv layer (docs/numerics.md,
"Convolution"); each weight layer has one integer threshold theta (fire when V >= theta).
Pooling layers have neither (docs/numerics.md, "Pooling"). ``arch`` (model.arch layers)
describes a network with conv or pool layers; None means dense layers only.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from contract.numerics import encode_latency

from .arch import Layer, dense_arch
from .decision import Decision, decide
from .kernels.conv import conv_forward
from .layer import check_weights, layer_forward
from .pool import pool_times


@dataclass
class ForwardResult:
    spikes: list[np.ndarray]      # per layer: (B, N_l) int16 spike times (256 = silent)
    v_cross: np.ndarray           # (B, N_out) output potentials at their crossing steps
    v_final: np.ndarray           # (B, N_out) output potentials V(255)
    decision: Decision

    @property
    def label(self) -> np.ndarray:
        return self.decision.label


def check_network(weights, thetas, arch: list[Layer] | None = None) -> list[np.ndarray]:
    """Validate shapes and values; returns the weights as int8 arrays (one per weight layer)."""
    if len(weights) != len(thetas) or len(weights) < 1:
        raise ValueError(f"{len(weights)} weight matrices but {len(thetas)} thresholds")
    for l, th in enumerate(thetas):
        if int(th) != th:
            raise ValueError(f"layer {l} threshold {th!r} is not an integer")
    if arch is None:
        ws = [check_weights(w, f"layer {l} weights") for l, w in enumerate(weights)]
        for l in range(1, len(ws)):
            if ws[l].shape[1] != ws[l - 1].shape[0]:
                raise ValueError(f"layer {l} fan-in {ws[l].shape[1]} != layer {l - 1} width "
                                 f"{ws[l - 1].shape[0]}")
        return ws
    shapes = [x.weight_shape for x in arch if x.has_weights]
    if len(shapes) != len(weights):
        raise ValueError(f"{len(weights)} weight arrays for {len(shapes)} weight layers")
    ws = []
    for l, (w, shape) in enumerate(zip(weights, shapes)):
        w = np.asarray(w)
        if w.shape != shape:
            raise ValueError(f"weight layer {l}: shape {w.shape}, the architecture says {shape}")
        ws.append(check_weights(w.reshape(shape[0], -1), f"weight layer {l}").reshape(shape))
    return ws


def forward_times(s_in: np.ndarray, weights, thetas, arch: list[Layer] | None = None
                  ) -> ForwardResult:
    """Run the network on input spike times s_in (B, N0) in 0..256."""
    return run_layers(s_in, check_network(weights, thetas, arch), [int(th) for th in thetas],
                      arch)


def run_layers(s_in: np.ndarray, ws: list[np.ndarray], thetas: list[int],
               arch: list[Layer] | None = None) -> ForwardResult:
    """``forward_times`` on weights already checked by ``check_network``."""
    arch = arch or dense_arch([ws[0].shape[1]] + [w.shape[0] for w in ws])
    spikes, s, wl = [], s_in, 0
    for layer in arch:
        if layer.kind == "pool":
            spikes.append(pool_times(s, layer))
        else:
            w, th = ws[wl], thetas[wl]
            r = (layer_forward(s, w, th) if layer.kind == "dense"
                 else conv_forward(s, w, layer, th))
            spikes.append(r.spikes)
            wl += 1
        s = spikes[-1]
    return ForwardResult(spikes, r.v_cross, r.v_final, decide(r.spikes, r.v_cross, r.v_final))


def default_threads() -> int:
    """One worker per CPU, at most 4."""
    return min(4, os.cpu_count() or 1)


def forward(images: np.ndarray, weights, thetas, batch: int = 1000,
            threads: int | None = None, arch: list[Layer] | None = None) -> ForwardResult:
    """Run the network on uint8 images (B, N0), in batches spread over ``threads`` worker
    threads (default: one per CPU, at most 4; NumPy releases the GIL in the heavy loops)."""
    threads = threads or default_threads()
    ws, ths = check_network(weights, thetas, arch), [int(th) for th in thetas]
    run = lambda i: run_layers(encode_latency(images[i:i + batch]), ws, ths, arch)  # noqa: E731
    starts = range(0, len(images), batch)
    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(run, starts))
    else:
        parts = [run(i) for i in starts]
    return concat_results(parts)


def concat_results(parts: list[ForwardResult]) -> ForwardResult:
    """One ForwardResult from the results of consecutive batches."""
    if len(parts) == 1:
        return parts[0]
    cat = np.concatenate
    d = [p.decision for p in parts]
    return ForwardResult(
        [cat([p.spikes[l] for p in parts]) for l in range(len(parts[0].spikes))],
        cat([p.v_cross for p in parts]), cat([p.v_final for p in parts]),
        Decision(*(cat([getattr(x, f) for x in d])
                   for f in ("label", "step", "tie", "no_spike", "winners"))))
