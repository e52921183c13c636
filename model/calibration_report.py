"""``python -m model.evaluate CKPT --calibration``: confidence figures of a checkpoint's
single network and of an ensemble of networks sampled from its distribution
(docs/numerics.md, "Calibration and ensembles").

Rows of the report (test split; every temperature fitted on the validation split the
training held out, ``meta["config"]["val_size"]`` images, by a 1-D search on NLL):

* ``single``: the checkpoint's network (for a bayes checkpoint the most probable one,
  sign(lambda)); confidence softmax(V(t*) / T) of the decided class;
* ``ensemble-mean``: M networks sampled from the distribution, majority vote (ties: lowest
  class); probabilities the mean of the members' softmax(V(t*) / T_e), confidence that mean
  on the voted class;
* ``ensemble-vote``: the same vote, confidence the vote share (no NLL: a class without a
  vote has probability 0).

A checkpoint without a distribution (the straight-through rules) has no ensemble; the
report says so and ignores ``--samples``.
"""
from __future__ import annotations

import numpy as np

from contract.errors import UsageError
from contract.numerics import encode_latency

from .calibration import (decision_potentials, figures, fit_temperature, majority_vote,
                          nll, plot_reliability, softmax)
from .checkpoint import load_checkpoint
from .data import load
from .network import forward
from .posterior import has_distribution, sample_networks


def run(images: np.ndarray, weights, ck) -> tuple[np.ndarray, np.ndarray]:
    """(decided class (B,), V(t*) (B, K)) of one binary network on ``images``."""
    f = forward(images, weights, ck.thetas, arch=ck.conv_arch)
    v = decision_potentials(encode_latency(images), f.spikes, f.decision.step, weights[-1])
    return f.decision.label, v


def single_row(ck, val, test) -> tuple[dict, tuple]:
    """The checkpoint's network: figures, and (confidence, correct) for the diagram."""
    w = ck.binary_weights
    _, v_val = run(val.images, w, ck)
    label, v = run(test.images, w, ck)
    t = fit_temperature(lambda x: nll(softmax(v_val, x), val.labels))
    p = softmax(v, t)
    conf = p[np.arange(len(label)), label]
    return {"temperature": t, **figures(p, label, conf, test.labels)}, (conf, label == test.labels)


def ensemble_rows(ck, val, test, m: int, seed: int) -> tuple[dict, dict]:
    """The ensemble of ``m`` sampled networks: rows ensemble-mean and ensemble-vote, and
    their (confidence, correct) pairs."""
    classes = ck.widths[-1]
    v_vals, v_tests, labels = [], [], []
    for w in sample_networks(ck, m, seed):
        v_vals.append(run(val.images, w, ck)[1])
        label, v = run(test.images, w, ck)
        v_tests.append(v)
        labels.append(label)
    mean_p = lambda vs, t: np.mean([softmax(v, t) for v in vs], axis=0)  # noqa: E731
    t = fit_temperature(lambda x: nll(mean_p(v_vals, x), val.labels), grid=21, rounds=25)
    p = mean_p(v_tests, t)
    voted, votes = majority_vote(np.array(labels), classes)
    rows = np.arange(len(voted))
    conf_mean, conf_vote = p[rows, voted], votes[rows, voted] / m
    correct = voted == test.labels
    members = float(np.mean([np.mean(x == test.labels) for x in labels]))
    out = {"ensemble-mean": {"temperature": t, "members_strict": members,
                             **figures(p, voted, conf_mean, test.labels)},
           "ensemble-vote": figures(None, voted, conf_vote, test.labels, votes)}
    return out, {f"ensemble of {m}, mean softmax": (conf_mean, correct),
                 f"ensemble of {m}, vote share": (conf_vote, correct)}


def calibration_report(path, data_dir=None, samples: int = 0, seed: int = 0,
                       plot=None) -> dict:
    """The report of checkpoint ``path`` (rows as in the module docstring); ``samples`` M
    (0: no ensemble), ``seed`` of the samples, ``plot`` a PNG path for the diagram."""
    ck = load_checkpoint(path)
    if ck.meta.get("mode", "binary") != "binary":
        raise UsageError(f"{path}: --calibration needs a binary checkpoint (mode "
                         f"{ck.meta.get('mode')!r})")
    distribution = has_distribution(ck)
    val_size = ck.meta.get("config", {}).get("val_size", 5000)
    ds = load(ck.meta.get("dataset", "mnist"), data_dir, val_size=val_size)
    ds_val, ds_test = ds.val, ds.test
    rows, diagram = {}, {}
    rows["single"], diagram["single network"] = single_row(ck, ds_val, ds_test)
    if samples and distribution:
        more, pairs = ensemble_rows(ck, ds_val, ds_test, samples, seed)
        rows.update(more)
        diagram.update(pairs)
    report = {"checkpoint": str(path), "dataset": ds.name, "rule": ck.meta.get("config", {})
              .get("rule", "unknown"), "distribution": distribution, "n_test": len(ds_test),
              "n_val": len(ds_val), "samples": samples, "seed": seed, "bins": 15, "rows": rows}
    if plot:
        plot_reliability(diagram, plot, title=f"{path} ({report['rule']} rule), "
                         f"{ds.name} test")
    return report


def format_report(r: dict) -> str:
    """The report as text, one row per line."""
    lines = [f"{r['checkpoint']}: {r['dataset']} test ({r['n_test']} images), rule "
             f"{r['rule']}; temperatures fitted on {r['n_val']} validation images; ECE over "
             f"{r['bins']} bins",
             f"  {'row':<15} {'strict':>7} {'ECE':>7} {'NLL':>7} {'Brier':>7} {'T':>8}"]
    for name, x in r["rows"].items():
        nll_ = "n/a" if x["nll"] is None else f"{x['nll']:.4f}"
        t = f"{x['temperature']:.3f}" if "temperature" in x else "-"
        lines.append(f"  {name:<15} {x['strict']:7.4f} {x['ece']:7.4f} {nll_:>7} "
                     f"{x['brier']:7.4f} {t:>8}")
    if "ensemble-mean" in r["rows"]:
        lines.append(f"  ensemble of {r['samples']} networks sampled with seed {r['seed']}: "
                     "majority vote (ties: lowest class); members' mean strict accuracy "
                     f"{r['rows']['ensemble-mean']['members_strict']:.4f}")
    elif not r["distribution"]:
        lines.append(f"  no ensemble{' (--samples ignored)' if r['samples'] else ''}: the "
                     "checkpoint holds one network, not a distribution over binary weights "
                     "(--rule bayes checkpoints have one)")
    else:
        lines.append("  no ensemble: pass --samples M to sample M networks")
    return "\n".join(lines)
