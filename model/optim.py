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

    def step(self, W, fact, dWs, dfs, lr: float, lr_f: float, pool=None,
             parts: int = 1) -> None:
        """One step: ``W[l] -= lr * (dW or Adam's direction)``, ``fact[l] -= lr_f * df``
        (kept >= 1e-3; a zero df leaves fact untouched). With a thread ``pool``, blocks of
        rows (``parts`` per layer) are updated in parallel (element-wise: the same numbers)."""
        self.steps += 1
        blocks = []
        for l, dW in enumerate(dWs):
            edges = np.linspace(0, len(W[l]), (parts if pool else 1) + 1).astype(int)
            blocks += [(l, slice(a, b)) for a, b in zip(edges[:-1], edges[1:])]
            if dfs[l]:
                fact[l] = max(fact[l] - lr_f * dfs[l], 1e-3)
        run = lambda lb: self.update(W[lb[0]], dWs[lb[0]], lb[0], lb[1], lr)  # noqa: E731
        if pool is not None and len(blocks) > len(dWs):
            list(pool.map(run, blocks))
        else:
            for lb in blocks:
                run(lb)

    def update(self, W, dW, l: int, rows: slice, lr: float) -> None:
        """Rows ``rows`` of layer ``l``: the optimizer's step, then the clipping."""
        b1, b2 = self.b1, self.b2
        W, dW = W[rows], dW[rows]
        if self.kind == "adam":
            # In place, in the order of lr * (m / c1) / (sqrt(v / c2) + eps).
            m, v = self.moments[l][0][rows], self.moments[l][1][rows]
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
            W -= tmp
        else:
            W -= np.float32(lr) * dW
        if self.clip:
            np.clip(W, -self.clip, self.clip, out=W)
