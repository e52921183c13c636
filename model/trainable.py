"""The network being trained: real-valued latent weights whose signs the forward uses, and
the per-layer threshold scales fact (theta = floor(thr / fact) + 1)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.numerics import SILENT, encode_latency

from .checkpoint import binarize, theta_from_fact
from .decision import accuracy, decide
from .layer import layer_from_rows
from .network import ForwardResult
from .realvalued import real_forward_times, real_layer_forward


@dataclass
class Signs:
    """The forward's binary weights, once per step for every worker thread."""
    wb: list[np.ndarray]          # (N_out, N_in) int8 +-1 per layer
    wf: list                      # float32 copies for the backward (None for layer 0)
    wt_pad: list[np.ndarray]      # (N_in + 1, N_out) int16, transposed, zero row appended


class Net:
    """Latent weights ``W`` (out, in) float32 per layer and the threshold scales ``fact`` (L,).

    Parameters
    ----------
    widths : layer widths, input first (784, ..., 10).
    cfg : a ``model.config.TrainConfig``: the rule picks the initialisation (decision:
        W ~ U[-clip, clip], fact from ``theta``; bs4nn: W ~ U[0, init), fact = fact0).
    rng : the generator the initial weights are drawn from.
    """

    def __init__(self, widths, cfg, rng: np.random.Generator):
        self.widths = list(widths)
        self.thr = float(cfg.thr)
        self.real = bool(cfg.real)
        L = len(widths) - 1
        self.W = []
        for l in range(L):
            shape = (widths[l + 1], widths[l])
            if cfg.rule == "decision":
                w = rng.uniform(-cfg.clip, cfg.clip, shape)
            else:
                ih = cfg.init_hidden
                hi = cfg.init_out if l == L - 1 else float(ih[min(l, len(ih) - 1)])
                w = rng.uniform(0.0, hi, shape)
            self.W.append(w.astype(np.float32))
        if cfg.rule == "decision":
            # floor(thr / fact) + 1 == theta exactly
            self.fact = np.array([self.thr / (t - 0.5) for t in cfg.theta], np.float64)
        else:
            self.fact = np.full(L, cfg.fact0, np.float64)

    @property
    def thetas(self) -> list[int]:
        return [theta_from_fact(self.thr, f) for f in self.fact]

    def binary(self) -> list[np.ndarray]:
        return [binarize(w) for w in self.W]

    def signs(self) -> Signs:
        wb = self.binary()
        wt_pad = []
        for w in wb:
            rows = np.zeros((w.shape[1] + 1, w.shape[0]), np.int16)
            rows[:-1] = w.T
            wt_pad.append(rows)
        return Signs(wb, [None] + [w.astype(np.float32) for w in wb[1:]], wt_pad)

    def layers(self, s_in: np.ndarray, signs: Signs | None = None):
        """Per-layer LayerResults on input spike times (B, N0): the integer contract
        (binarize(W), theta) or, with real=True, the real-valued S4NN forward."""
        out, s = [], s_in
        if not self.real:
            signs = signs or self.signs()
        for l in range(len(self.W)):
            if self.real:
                r = real_layer_forward(s, self.W[l], self.thr / self.fact[l])
            else:
                r = layer_from_rows(s, signs.wt_pad[l], self.thetas[l])
            out.append(r)
            s = r.spikes
        return out

    def forward_times(self, s_in: np.ndarray) -> ForwardResult:
        if self.real:
            return real_forward_times(s_in, self.W, [self.thr / f for f in self.fact])
        rs = self.layers(s_in)
        r = rs[-1]
        return ForwardResult([x.spikes for x in rs], r.v_cross, r.v_final,
                             decide(r.spikes, r.v_cross, r.v_final))

    def evaluate(self, images: np.ndarray, labels: np.ndarray, batch: int = 1000) -> dict:
        """strict / paper accuracy, ties, no-spike count, mean spikes per layer."""
        n = len(labels)
        correct = paper = ties = nospike = 0
        spikes = np.zeros(len(self.W))
        for lo in range(0, n, batch):
            f = self.forward_times(encode_latency(images[lo:lo + batch]))
            y = labels[lo:lo + batch]
            st, pa = accuracy(f.decision, y)
            m = len(y)
            correct += st * m
            paper += pa * m
            ties += int(f.decision.tie.sum())
            nospike += int(f.decision.no_spike.sum())
            spikes += [float((s < SILENT).sum()) for s in f.spikes]
        return {"strict": round(correct / n, 6), "paper": round(paper / n, 6), "ties": ties,
                "no_spike": nospike, "n": n, "mean_spikes": [round(s / n, 3) for s in spikes]}
