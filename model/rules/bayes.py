"""The Bayesian rule (``--rule bayes``): a mean-field distribution over the binary weights
learnt with the Bayesian learning rule, as in BayesBiNN (Meng, Bachmann & Khan 2020,
"Training binary neural networks using the Bayesian learning rule", ICML; the same family
of rules BiSNN, Jang, Skatchkovsky & Simeone, arXiv 2012.08300, applies to spiking nets).

Each weight w in {-1, +1} is Bernoulli with natural parameter lambda (``net.W`` holds the
lambdas; model/posterior.py): mean mu = tanh(lambda), most probable sign sign(lambda). One
training step, per weight:

* draw K (``--mc-samples``) samples rho = lambda + delta, delta logistic / 2; the forward is
  the integer golden forward on the sampled signs sign(rho), the tau -> 0 limit of the
  concrete relaxation w_r = tanh(rho / tau) (``--gumbel-temperature`` tau);
* g = dL/dw from the decision rule's straight-through backward (model/rules/decision_ce.py)
  on that forward, L the batch's mean loss; the relaxation turns it into a gradient in mu:
  g_mu = g * (1 - w_r^2 + 1e-10) / tau / (1 - mu^2 + 1e-10) (BayesBiNN's estimator);
* with N training images, the natural-gradient step of the Bayesian learning rule with
  BayesBiNN's momentum beta (``--momentum``) and prior lambda_0 (``--prior``):
  m <- beta m + (1 - beta) (N mean_K(g_mu) + lambda - lambda_0),
  lambda <- lambda - lr m / (1 - beta^t). With beta = 0 this is
  lambda <- (1 - lr) lambda + lr (lambda_0 - N g_mu).

Thresholds are the decision rule's fixed integers (``--theta``). The loop evaluates and the
checkpoint keeps the most probable network sign(lambda); the checkpoint stores lambda.
"""
from __future__ import annotations

import numpy as np

from ..posterior import perturbed
from .decision_ce import gradients  # noqa: F401  (the backward: the decision rule's)

TINY = 1e-10                    # BayesBiNN's guard on 1 - w_r^2 and 1 - mu^2


def mean_gradient_scale(lam: np.ndarray, rho: np.ndarray, tau: float) -> np.ndarray:
    """(1 - tanh(rho / tau)^2 + 1e-10) / tau / (1 - tanh(lambda)^2 + 1e-10), in float32 as
    BayesBiNN computes it (a saturated tanh gives 1 - tanh^2 = 0, then the guards decide)."""
    f32 = np.float32
    w_r = np.tanh(rho / f32(tau))
    mu = np.tanh(lam)
    return (f32(1) - w_r * w_r + f32(TINY)) / f32(tau) / (f32(1) - mu * mu + f32(TINY))


class Posterior:
    """The distribution's update, in place on ``net.W`` (the lambdas).

    Parameters
    ----------
    net : the ``model.trainable.Net`` whose ``W`` are the natural parameters.
    cfg : the resolved ``TrainConfig`` (prior, gumbel_temperature, momentum, mc_samples).
    rng : the generator the samples are drawn from.
    n_train : N, the number of training images (the likelihood's weight against the prior).
    """

    def __init__(self, net, cfg, rng: np.random.Generator, n_train: int):
        self.net, self.cfg, self.rng, self.n = net, cfg, rng, n_train
        self.momentum = [np.zeros_like(w) for w in net.W]
        self.acc = [np.zeros_like(w) for w in net.W]
        self.samples = 0
        self.steps = 0
        self.rho = None

    def sample(self):
        """Draw one network: its ``Signs`` for the forward (remembers rho for the update)."""
        self.rho = perturbed(self.net.W, self.rng)
        return self.net.signs(self.rho)

    def accumulate(self, dWs, batch: int) -> None:
        """Add the last sample's g_mu; ``dWs`` are the summed per-image gradients."""
        tau = self.cfg.gumbel_temperature
        for acc, lam, rho, dW in zip(self.acc, self.net.W, self.rho, dWs):
            acc += mean_gradient_scale(lam, rho, tau) * (dW / np.float32(batch))
        self.samples += 1

    def update(self, lr: float) -> None:
        """The Bayesian learning rule step with the accumulated samples, then reset them."""
        self.steps += 1
        beta, prior = self.cfg.momentum, np.float32(self.cfg.prior)
        scale = np.float32(self.n / self.samples)
        correction = 1.0 - beta ** self.steps
        for lam, m, acc in zip(self.net.W, self.momentum, self.acc):
            m *= np.float32(beta)
            m += np.float32(1 - beta) * (scale * acc + lam - prior)
            lam -= np.float32(lr / correction) * m
            acc.fill(0)
        self.samples = 0
