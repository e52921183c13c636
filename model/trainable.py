"""The network being trained: real-valued latent weights whose signs the forward uses, and
the per-layer threshold scales fact (theta = floor(thr / fact) + 1)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.numerics import SILENT, encode_latency

from .arch import Layer, dense_arch, widths_of
from .checkpoint import binarize, theta_from_fact
from .decision import accuracy, decide
from .kernels.conv import conv_forward
from .kernels.scan import forward_rows
from .kernels.update import sign_rows
from .layer import LayerResult
from .network import ForwardResult
from .pool import pool_times
from .realvalued import real_forward_times, real_spikes


@dataclass
class Signs:
    """The forward's binary weights, once per step for every worker thread."""
    wb: list                      # per weight layer: conv (C_out, C_in, K, K) int8, dense None
    wf: list                      # float32 dense matrices for the backward (None: layer 0, conv)
    wt_pad: list                  # dense: (N_in + 1, N_out) int16 connection rows, zero row
                                  # appended; conv None (model.kernels.conv reads wb)


class Net:
    """Latent weights ``W`` float32 per weight layer (dense (out, in), conv (C_out, C_in, K,
    K)) and the threshold scales ``fact`` (one per weight layer).

    Parameters
    ----------
    layers : the architecture (model.arch layers), or dense widths, input first (784, ..., 10).
    cfg : a ``model.config.TrainConfig``: the rule picks the initialisation (decision and
        bayes: W ~ U[-clip, clip], fact from ``theta``; bs4nn: W ~ U[0, init), fact = fact0).
        With the bayes rule W holds the natural parameters lambda of the weights' Bernoulli
        distributions (model/rules/bayes.py).
    rng : the generator the initial weights are drawn from.
    """

    def __init__(self, layers, cfg, rng: np.random.Generator):
        self.arch = (list(layers) if layers and isinstance(layers[0], Layer)
                     else dense_arch(layers))
        self.widths = widths_of(self.arch)
        self.thr = float(cfg.thr)
        self.real = bool(cfg.real)
        shapes = [x.weight_shape for x in self.arch if x.has_weights]
        L = len(shapes)
        self.W = []
        fixed_theta = cfg.rule in ("decision", "bayes")
        for l, shape in enumerate(shapes):
            if fixed_theta:
                w = rng.uniform(-cfg.clip, cfg.clip, shape)
            else:
                ih = cfg.init_hidden
                hi = cfg.init_out if l == L - 1 else float(ih[min(l, len(ih) - 1)])
                w = rng.uniform(0.0, hi, shape)
            self.W.append(w.astype(np.float32))
        if fixed_theta:
            # floor(thr / fact) + 1 == theta exactly
            self.fact = np.array([self.thr / (t - 0.5) for t in cfg.theta], np.float64)
        else:
            self.fact = np.full(L, cfg.fact0, np.float64)

    @property
    def weight_layers(self) -> list[Layer]:
        return [x for x in self.arch if x.has_weights]

    @property
    def thetas(self) -> list[int]:
        return [theta_from_fact(self.thr, f) for f in self.fact]

    def binary(self) -> list[np.ndarray]:
        return [binarize(w) for w in self.W]

    def signs(self, W: list[np.ndarray] | None = None) -> Signs:
        """The binary weights as the forward and backward use them: the signs of ``W``
        (default: the latent weights ``self.W``; the bayes rule passes a sample)."""
        wt_pad, wf, wb = [], [], []
        for l, (w, layer) in enumerate(zip(self.W if W is None else W, self.weight_layers)):
            if layer.kind == "conv":
                wb.append(binarize(w))
                wt_pad.append(None)
                wf.append(None)
                continue
            wb.append(None)
            wt_pad.append(sign_rows(w))
            wf.append(binarize(w).astype(np.float32) if l else None)
        return Signs(wb, wf, wt_pad)

    def layers(self, s_in: np.ndarray, signs: Signs | None = None) -> list[LayerResult]:
        """Per-layer LayerResults on input spike times (B, N0): the integer contract
        (binarize(W), theta; the compiled model.kernels.scan and model.kernels.conv) or, with
        real=True, the real-valued S4NN forward. A pooling layer's result has its spike
        times only (v_cross, v_final None)."""
        if self.real:
            outs = real_spikes(s_in, self.W, [self.thr / f for f in self.fact], self.arch)
            return [LayerResult(x, None, None) if isinstance(x, np.ndarray) else x
                    for x in outs]
        signs = signs or self.signs()
        out, s, wl = [], s_in, 0
        for layer in self.arch:
            if layer.kind == "pool":
                r = LayerResult(pool_times(s, layer), None, None)
            elif layer.kind == "conv":
                r = conv_forward(s, signs.wb[wl], layer, self.thetas[wl])
                wl += 1
            else:
                r = forward_rows(s, signs.wt_pad[wl], self.thetas[wl])
                wl += 1
            out.append(r)
            s = r.spikes
        return out

    def forward_times(self, s_in: np.ndarray) -> ForwardResult:
        if self.real:
            return real_forward_times(s_in, self.W, [self.thr / f for f in self.fact], self.arch)
        rs = self.layers(s_in)
        r = rs[-1]
        return ForwardResult([x.spikes for x in rs], r.v_cross, r.v_final,
                             decide(r.spikes, r.v_cross, r.v_final))

    def evaluate(self, images: np.ndarray, labels: np.ndarray, batch: int = 1000) -> dict:
        """strict / paper accuracy, ties, no-spike count, mean spikes per layer."""
        n = len(labels)
        correct = paper = ties = nospike = 0
        spikes = np.zeros(len(self.arch))
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
