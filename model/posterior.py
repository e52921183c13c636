"""A checkpoint's distribution over binary weights (the bayes rule, model/rules/bayes.py).

Each weight w in {-1, +1} is an independent Bernoulli variable with natural parameter
lambda (stored as the checkpoint's latent array): P(w = +1) = sigmoid(2 lambda), mean
tanh(lambda). The most probable network is sign(lambda), ``Checkpoint.binary_weights``
(lambda >= 0 -> +1, the export convention). A sample is sign(lambda + delta) with logistic
noise delta = log(u / (1 - u)) / 2, u ~ U(0, 1): P(lambda + delta >= 0) = sigmoid(2 lambda).
"""
from __future__ import annotations

import numpy as np

from .checkpoint import Checkpoint, binarize

DISTRIBUTION = {"kind": "bernoulli-mean-field", "parameter": "latent = natural parameter "
                "lambda", "p_plus": "sigmoid(2 lambda)", "mode": "sign(lambda)"}


def has_distribution(ck: Checkpoint) -> bool:
    """True when the checkpoint's latent arrays are a distribution's natural parameters."""
    return bool(ck.meta.get("distribution"))


def logistic_noise(rng: np.random.Generator, shape) -> np.ndarray:
    """delta = log(u / (1 - u)) / 2, u ~ U(0, 1) (float32; u kept off 0 and 1)."""
    u = np.clip(rng.random(shape), 1e-12, 1 - 1e-12)
    return (0.5 * np.log(u / (1.0 - u))).astype(np.float32)


def perturbed(latent, rng: np.random.Generator) -> list[np.ndarray]:
    """lambda + delta per layer: the signs are one sample of the network."""
    return [(lam + logistic_noise(rng, lam.shape)).astype(np.float32) for lam in latent]


def sample_networks(ck: Checkpoint, m: int, seed: int = 0) -> list[list[np.ndarray]]:
    """``m`` networks (int8 +-1 weights per layer) drawn from the checkpoint's distribution
    with generator seed ``seed``; ValueError for a checkpoint without one."""
    if not has_distribution(ck):
        raise ValueError("the checkpoint holds one network, not a distribution over binary "
                         "weights (train with --rule bayes)")
    rng = np.random.default_rng(seed)
    return [[binarize(x) for x in perturbed(ck.latent, rng)] for _ in range(m)]
