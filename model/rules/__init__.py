"""Learning rules: each computes one batch slice's gradients for ``model.trainable.Net``.

A rule module provides ``gradients(net, s_in, y, cfg) -> (dW per layer, dfact per layer,
summed loss, correct decisions)``; the forward is always the integer contract. ``RULES``
maps the ``--rule`` values of ``python -m model.train`` to them:

* ``decision`` (``decision_ce``): cross-entropy on the output potentials at the decision step;
* ``bs4nn`` (``bs4nn``): the paper's rule, target spike times and a temporal backward;
* ``bayes`` (``bayes``): a distribution over the binary weights (BayesBiNN's Bayesian
  learning rule) with the decision rule's backward; it adds ``Posterior``, which draws the
  sampled networks and updates the distribution instead of the latent optimizer.

``bs4nn_literal`` is the paper's rule written literally, per sample, as the yardstick the
vectorised ``bs4nn`` is tested against; it is not a training option.
"""
from __future__ import annotations

from . import bayes, bs4nn, decision_ce

RULES = {"decision": decision_ce, "bs4nn": bs4nn, "bayes": bayes}
