"""The integer golden model: a stack of binary IF layers and the decision (docs/numerics.md,
"Time" to "No-spike fallback").

This is what the hardware must reproduce bit for bit. Weights are (out, in) matrices of
+-1 (int8); each layer has one integer threshold theta (fire when V >= theta).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .decision import Decision, decide
from contract.numerics import encode_latency
from .layer import check_weights, layer_forward


@dataclass
class ForwardResult:
    spikes: list[np.ndarray]      # per weight layer: (B, N_l) int16 spike times (256 = silent)
    v_cross: np.ndarray           # (B, N_out) output potentials at their crossing steps
    v_final: np.ndarray           # (B, N_out) output potentials V(255)
    decision: Decision

    @property
    def label(self) -> np.ndarray:
        return self.decision.label


def check_network(weights, thetas) -> list[np.ndarray]:
    """Validate shapes and values; returns the weights as int8 arrays."""
    if len(weights) != len(thetas) or len(weights) < 1:
        raise ValueError(f"{len(weights)} weight matrices but {len(thetas)} thresholds")
    ws = [check_weights(w, f"layer {l} weights") for l, w in enumerate(weights)]
    for l in range(1, len(ws)):
        if ws[l].shape[1] != ws[l - 1].shape[0]:
            raise ValueError(f"layer {l} fan-in {ws[l].shape[1]} != layer {l - 1} width "
                             f"{ws[l - 1].shape[0]}")
    for l, th in enumerate(thetas):
        if int(th) != th:
            raise ValueError(f"layer {l} threshold {th!r} is not an integer")
    return ws


def forward_times(s_in: np.ndarray, weights, thetas) -> ForwardResult:
    """Run the network on input spike times s_in (B, N0) in 0..256."""
    return run_layers(s_in, check_network(weights, thetas), [int(th) for th in thetas])


def run_layers(s_in: np.ndarray, ws: list[np.ndarray], thetas: list[int]) -> ForwardResult:
    """``forward_times`` on weights already checked by ``check_network``."""
    spikes, s = [], s_in
    for w, th in zip(ws, thetas):
        r = layer_forward(s, w, th)
        spikes.append(r.spikes)
        s = r.spikes
    return ForwardResult(spikes, r.v_cross, r.v_final, decide(r.spikes, r.v_cross, r.v_final))


def default_threads() -> int:
    """One worker per CPU, at most 4."""
    return min(4, os.cpu_count() or 1)


def forward(images: np.ndarray, weights, thetas, batch: int = 1000,
            threads: int | None = None) -> ForwardResult:
    """Run the network on uint8 images (B, N0), in batches spread over ``threads`` worker
    threads (default: one per CPU, at most 4; NumPy releases the GIL in the heavy loops)."""
    threads = threads or default_threads()
    ws, ths = check_network(weights, thetas), [int(th) for th in thetas]
    run = lambda i: run_layers(encode_latency(images[i:i + batch]), ws, ths)  # noqa: E731
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
