"""The network being trained: real-valued latent weights whose signs the forward uses (or,
with ``--real``, the weights themselves), and the per-layer threshold scales fact
(theta = floor(thr / fact) + 1; the real-valued forward fires when V > thr / fact)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.numerics import SILENT, encode_latency

from .arch import Layer, dense_arch, widths_of
from .checkpoint import binarize, theta_from_fact
from .decision import accuracy, decide
from .kernels.conv import conv_forward
from .kernels.real_conv import conv_forward_real
from .kernels.real_scan import forward_rows_real
from .kernels.scan import forward_rows
from .kernels.update import sign_rows
from .layer import LayerResult, padded_rows
from .network import ForwardResult
from .pool import pool_times
from .realvalued import real_forward_times


@dataclass
class Signs:
    """The forward's weights, once per step for every worker thread: the binary ones, or
    with ``real`` the latent real weights themselves (float32 everywhere)."""
    wb: list                      # per weight layer: conv (C_out, C_in, K, K) int8, dense None
    wf: list                      # float32 dense matrices for the backward (None: layer 0, conv)
    wt_pad: list                  # dense: (N_in + 1, N_out) int16 connection rows, zero row
                                  # appended; conv None (model.kernels.conv reads wb)
    real: bool = False


class Net:
    """Latent weights ``W`` float32 per weight layer (dense (out, in), conv (C_out, C_in, K,
    K)) and the threshold scales ``fact`` (one per weight layer).

    Parameters
    ----------
    layers : the architecture (model.arch layers), or dense widths, input first (784, ..., 10).
    cfg : a ``model.config.TrainConfig``: the rule picks the initialisation (decision and
        bayes: W ~ U[-clip, clip], fact = thr / (theta - 1/2), so that the real-valued
        forward's V > thr / fact is the integer V >= theta; bs4nn: W ~ U[0, init),
        fact = fact0). ``cfg.real``: the forward uses the real weights (S4NN).
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

    @property
    def thresholds(self) -> list[float]:
        """The real-valued forward's thresholds thr / fact (fire when V > thr / fact)."""
        return [self.thr / f for f in self.fact]

    def signs(self, W: list[np.ndarray] | None = None) -> Signs:
        """The binary weights as the forward and backward use them: the signs of ``W``
        (default: the latent weights ``self.W``; the bayes rule passes a sample). A real
        network's forward and backward use the latent weights themselves."""
        if self.real:
            return self.real_weights()
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

    def real_weights(self) -> Signs:
        """``signs()`` of a real network: the latent weights as float32 kernels, matrices
        and connection rows."""
        wb, wf, wt_pad = [], [], []
        for l, (w, layer) in enumerate(zip(self.W, self.weight_layers)):
            w = np.asarray(w, np.float32)
            conv = layer.kind == "conv"
            wb.append(w if conv else None)
            wf.append(None if conv or l == 0 else w)
            wt_pad.append(None if conv else padded_rows(np.ascontiguousarray(w.T)))
        return Signs(wb, wf, wt_pad, real=True)

    def fire(self, s: np.ndarray, signs: Signs, wl: int, layer: Layer) -> LayerResult:
        """Weight layer ``wl`` (``layer``) on its input spike times: the integer contract
        (V >= theta; the compiled model.kernels.scan and model.kernels.conv) or, with real
        weights, the S4NN forward (V > thr / fact; model.kernels.real_scan, real_conv;
        V(255) of the output layer only: v_final None below it)."""
        conv = layer.kind == "conv"
        if signs.real:
            th, last = self.thresholds[wl], wl == len(self.W) - 1
            return (conv_forward_real(s, signs.wb[wl], layer, th, final=last) if conv
                    else forward_rows_real(s, signs.wt_pad[wl], th, final=last))
        return (conv_forward(s, signs.wb[wl], layer, self.thetas[wl]) if conv
                else forward_rows(s, signs.wt_pad[wl], self.thetas[wl]))

    def layers(self, s_in: np.ndarray, signs: Signs | None = None) -> list[LayerResult]:
        """Per-layer LayerResults on input spike times (B, N0) (``fire``). A pooling
        layer's result has its spike times only (v_cross, v_final None)."""
        signs = signs or self.signs()
        out, s, wl = [], s_in, 0
        for layer in self.arch:
            if layer.kind == "pool":
                r = LayerResult(pool_times(s, layer), None, None)
            else:
                r = self.fire(s, signs, wl, layer)
                wl += 1
            out.append(r)
            s = r.spikes
        return out

    def forward_times(self, s_in: np.ndarray) -> ForwardResult:
        if self.real:
            return real_forward_times(s_in, self.W, self.thresholds, self.arch)
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
