"""Steps on the latent weights (SGD or Adam, then optional clipping) and SGD on the
threshold scales fact."""
from __future__ import annotations

import numpy as np


class LatentOptimizer:
    """Updates a Net's latent weights ``W`` and threshold scales ``fact`` in place.

    Parameters
    ----------
    shapes : the latent weight arrays' shapes, one per layer (Adam keeps moments of each).
    kind : "sgd" or "adam".
    clip : latent weights are clipped to [-clip, clip] after each step; 0 = no clipping.
    """

    def __init__(self, shapes, kind: str = "sgd", clip: float = 0.0,
                 b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        self.kind, self.clip = kind, clip
        self.b1, self.b2, self.eps = b1, b2, eps
        self.moments = [(np.zeros(s, np.float32), np.zeros(s, np.float32)) for s in shapes]
        self.steps = 0

    def step(self, W, fact, dWs, dfs, lr: float, lr_f: float) -> None:
        """One step: ``W[l] -= lr * (dW or Adam's direction)``, ``fact[l] -= lr_f * df``
        (kept >= 1e-3; a zero df leaves fact untouched)."""
        self.steps += 1
        b1, b2 = self.b1, self.b2
        for l, dW in enumerate(dWs):
            if self.kind == "adam":
                # In place, in the order of lr * (m / c1) / (sqrt(v / c2) + eps).
                m, v = self.moments[l]
                tmp = (1 - b1) * dW
                m *= b1
                m += tmp
                np.multiply((1 - b2) * dW, dW, out=tmp)
                v *= b2
                v += tmp
                den = np.divide(v, 1 - b2 ** self.steps)
                np.sqrt(den, out=den)
                den += self.eps
                np.divide(m, 1 - b1 ** self.steps, out=tmp)
                tmp *= np.float32(lr)
                tmp /= den
                W[l] -= tmp
            else:
                W[l] -= np.float32(lr) * dW
            if self.clip:
                np.clip(W[l], -self.clip, self.clip, out=W[l])
            if dfs[l]:
                fact[l] = max(fact[l] - lr_f * dfs[l], 1e-3)
