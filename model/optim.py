"""Steps on the latent weights (SGD or Adam, then optional clipping) and SGD on the
threshold scales fact."""
from __future__ import annotations

import numpy as np

from .kernels.update import adam_kernel, sgd_kernel

PARALLEL_SIZE = 1 << 16         # smaller layers: one block (a worker's start costs more)


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
        rows (``parts`` per layer of at least PARALLEL_SIZE weights) are updated in parallel
        (element-wise: the same numbers)."""
        self.steps += 1
        blocks = []
        for l, dW in enumerate(dWs):
            split = parts if pool is not None and W[l].size >= PARALLEL_SIZE else 1
            edges = np.linspace(0, len(W[l]), split + 1).astype(int)
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
        """Rows ``rows`` of layer ``l``: the optimizer's step, then the clipping (compiled,
        model.kernels.update: float32 throughout, as NumPy's in-place sequence)."""
        f32 = np.float32
        flat = lambda x: np.reshape(x[rows], -1, copy=False)          # noqa: E731 (views)
        w, g = flat(W), np.ascontiguousarray(dW[rows]).reshape(-1)
        bound = f32(self.clip) if self.clip else f32(np.inf)
        if self.kind == "adam":
            b1, b2 = self.b1, self.b2
            adam_kernel(w, g, flat(self.moments[l][0]), flat(self.moments[l][1]), f32(b1),
                        f32(b2), f32(1 - b1), f32(1 - b2), f32(1 - b1 ** self.steps),
                        f32(1 - b2 ** self.steps), f32(self.eps), f32(lr), -bound, bound)
        else:
            sgd_kernel(w, g, f32(lr), -bound, bound)
