"""A checkpoint's distribution over binary weights (the bayes rule, model/rules/bayes.py).

Each weight w in {-1, +1} is an independent Bernoulli variable with natural parameter
lambda (stored as the checkpoint's latent array): P(w = +1) = sigmoid(2 lambda), mean
tanh(lambda). The most probable network is sign(lambda), ``Checkpoint.binary_weights``
(lambda >= 0 -> +1, the export convention). A sample is sign(lambda + delta) with logistic
noise delta = log(u / (1 - u)) / 2, u ~ U(0, 1): P(lambda + delta >= 0) = sigmoid(2 lambda)
(for |lambda| < 8, the noise's bound in float32).
"""
from __future__ import annotations

import numpy as np

from .checkpoint import Checkpoint, binarize
from .kernels.bayes import perturb_kernel

DISTRIBUTION = {"kind": "bernoulli-mean-field", "parameter": "latent = natural parameter "
                "lambda", "p_plus": "sigmoid(2 lambda)", "mode": "sign(lambda)"}


def has_distribution(ck: Checkpoint) -> bool:
    """True when the checkpoint's latent arrays are a distribution's natural parameters."""
    return bool(ck.meta.get("distribution"))


def perturbed(latent, rng: np.random.Generator) -> list[np.ndarray]:
    """lambda + delta per layer (float32), delta = log(u / (1 - u)) / 2 with float32 uniforms
    u kept in [1e-7, 1 - 1e-7] (|delta| <= 8.06); the signs are one sample of the network."""
    out = []
    for lam in latent:
        lam = np.ascontiguousarray(lam, np.float32)
        rho = np.empty_like(lam)
        perturb_kernel(lam.reshape(-1), rng.random(lam.size, dtype=np.float32), rho.reshape(-1))
        out.append(rho)
    return out


def sample_networks(ck: Checkpoint, m: int, seed: int = 0) -> list[list[np.ndarray]]:
    """``m`` networks (int8 +-1 weights per layer) drawn from the checkpoint's distribution
    with generator seed ``seed``; ValueError for a checkpoint without one."""
    if not has_distribution(ck):
        raise ValueError("the checkpoint holds one network, not a distribution over binary "
                         "weights (train with --rule bayes)")
    rng = np.random.default_rng(seed)
    return [[binarize(x) for x in perturbed(ck.latent, rng)] for _ in range(m)]
