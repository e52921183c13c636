"""The Bayesian rule (``--rule bayes``): a mean-field distribution over the binary weights
learnt with the Bayesian learning rule, as in BayesBiNN (Meng, Bachmann & Khan 2020,
"Training binary neural networks using the Bayesian learning rule", ICML; the same family
of rules BiSNN, Jang, Skatchkovsky & Simeone, arXiv 2012.08300, applies to spiking nets).

Each weight w in {-1, +1} is Bernoulli with natural parameter lambda (``net.W`` holds the
lambdas; model/posterior.py): mean mu = tanh(lambda), most probable sign sign(lambda). One
training step, per weight:

* draw K (``--mc-samples``) samples rho = lambda + delta, delta logistic / 2; the forward is
  the integer golden forward on the sampled signs sign(rho), the tau -> 0 limit of the
  concrete relaxation w_r = tanh(rho / tau) (``--gumbel-temperature`` tau; BayesBiNN runs
  its forward on w_r itself, here only the gradient sees the relaxation);
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

from ..kernels.bayes import accumulate_kernel, update_kernel
from ..posterior import perturbed
from . import decision_ce

gradients = decision_ce.gradients           # the backward on a sample: the decision rule's

TINY = 1e-10                    # BayesBiNN's guard on 1 - w_r^2 and 1 - mu^2


def flat(x: np.ndarray) -> np.ndarray:
    """A flat view (never a copy: the kernels update in place)."""
    return np.reshape(x, -1, copy=False)


def mean_gradient_scale(lam: np.ndarray, rho: np.ndarray, tau: float) -> np.ndarray:
    """(1 - tanh(rho / tau)^2 + 1e-10) / tau / (1 - tanh(lambda)^2 + 1e-10), float64: the
    statement the compiled ``accumulate_kernel`` follows in float32 (there 1 - tanh^2 is
    computed as 4 t / (1 + t)^2, t = exp(-2 |x|), so it never cancels to 0)."""
    w_r = np.tanh(np.asarray(rho, np.float64) / tau)
    mu = np.tanh(np.asarray(lam, np.float64))
    return (1.0 - w_r * w_r + TINY) / tau / (1.0 - mu * mu + TINY)


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
        """Add the last sample's g_mu (``mean_gradient_scale`` x dW / batch); ``dWs`` are
        the summed per-image gradients."""
        f32 = np.float32
        inv_tau = f32(1 / self.cfg.gumbel_temperature)
        for acc, lam, rho, dW in zip(self.acc, self.net.W, self.rho, dWs):
            accumulate_kernel(flat(acc), flat(lam), flat(rho),
                              np.ascontiguousarray(dW, f32).reshape(-1), inv_tau,
                              f32(1 / batch), f32(TINY))
        self.samples += 1

    def update(self, lr: float) -> None:
        """The Bayesian learning rule step with the accumulated samples, then reset them."""
        self.steps += 1
        f32, beta = np.float32, self.cfg.momentum
        step = f32(lr / (1.0 - beta ** self.steps))
        for lam, m, acc in zip(self.net.W, self.momentum, self.acc):
            update_kernel(flat(lam), flat(m), flat(acc), f32(beta),
                          f32(1 - beta), f32(self.n / self.samples), f32(self.cfg.prior), step)
        self.samples = 0
