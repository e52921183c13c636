"""The network being trained: real-valued latent weights whose signs the forward uses, and
the per-layer threshold scales fact (theta = floor(thr / fact) + 1)."""
from __future__ import annotations

import numpy as np

from contract.numerics import SILENT, encode_latency

from .checkpoint import binarize, theta_from_fact
from .decision import accuracy, decide
from .layer import layer_forward
from .network import ForwardResult
from .realvalued import real_forward_times, real_layer_forward


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

    def layers(self, s_in: np.ndarray):
        """Per-layer LayerResults on input spike times (B, N0): the integer contract
        (binarize(W), theta) or, with real=True, the real-valued S4NN forward."""
        out, s = [], s_in
        bins = None if self.real else self.binary()
        for l in range(len(self.W)):
            if self.real:
                r = real_layer_forward(s, self.W[l], self.thr / self.fact[l])
            else:
                r = layer_forward(s, bins[l], self.thetas[l])
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
