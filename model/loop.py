"""The training loop: mini-batches split over worker threads, a cosine step schedule, the
epoch with the best validation accuracy (strict) kept, the test set evaluated at the end."""
from __future__ import annotations

import itertools
import math
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from contract.network import validate_network
from contract.numerics import LAST_STEP, encode_latency

from .arch import is_dense, spec_of, to_dicts, widths_of
from .augment import translate
from .checkpoint import Checkpoint
from .config import TrainConfig, fan_in_thetas
from .curves import plot_history
from .data import load
from .optim import LatentOptimizer
from .posterior import DISTRIBUTION
from .rules import RULES
from .rules.early import ramped
from .trainable import Net


class Trainer:
    """One training step at a time: the batch split over worker threads, gradients summed."""

    def __init__(self, net: Net, cfg: TrainConfig, rng: np.random.Generator | None = None,
                 n_train: int = 1):
        self.net, self.cfg = net, cfg
        self.rule_cfg = cfg             # cfg with this step's early weight (--early-warmup)
        self.rule = RULES[cfg.rule]
        # The bayes rule: a distribution over the signs, sampled and updated by the rule.
        self.posterior = (self.rule.Posterior(net, cfg, rng, n_train)
                          if hasattr(self.rule, "Posterior") else None)
        self.optimizer = None if self.posterior else LatentOptimizer(
            [w.shape for w in net.W], cfg.optimizer, cfg.clip if cfg.rule == "decision" else 0.0)
        self.pool = ThreadPoolExecutor(cfg.threads) if cfg.threads > 1 else None

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()

    def step(self, images: np.ndarray, labels: np.ndarray, lr: float, lr_f: float):
        """Forward (integer contract, or real-valued with --real), backward, update. Returns
        (mean loss, accuracy)."""
        s_in = encode_latency(images)
        if self.posterior is None:
            signs = self.net.signs()                                  # once for all threads
            dWs, dfs, loss, acc = self.backward(s_in, labels, signs)
            self.optimizer.step(self.net.W, self.net.fact, dWs, dfs, lr, lr_f, self.pool,
                                self.cfg.threads)
            return loss, acc
        losses, accs = [], []
        for _ in range(self.cfg.mc_samples):
            dWs, _, loss, acc = self.backward(s_in, labels, self.posterior.sample())
            self.posterior.accumulate(dWs, len(labels))
            losses.append(loss)
            accs.append(acc)
        self.posterior.update(lr)
        return float(np.mean(losses)), float(np.mean(accs))

    def backward(self, s_in: np.ndarray, labels: np.ndarray, signs):
        """The rule's gradients on the batch, split over the worker threads and summed:
        (dW per layer, dfact, mean loss, accuracy)."""
        # Dealt out by event count: each worker gets as many events (work) as the others.
        by_events = np.argsort((s_in < LAST_STEP).sum(axis=1), kind="stable")
        parts = [by_events[k::self.cfg.threads] for k in range(self.cfg.threads)]
        parts = [p for p in parts if len(p)]
        job = lambda p: self.rule.gradients(self.net, s_in[p], labels[p],  # noqa: E731
                                            self.rule_cfg, signs)
        if self.pool and len(parts) > 1:
            outs = list(self.pool.map(job, parts))
        else:
            outs = [job(p) for p in parts]
        dWs = list(outs[0][0])                          # each slice's own arrays: summed in place
        for o in outs[1:]:
            for l, dW in enumerate(o[0]):
                np.add(dWs[l], dW, out=dWs[l])
        dfs = sum(o[1] for o in outs)
        loss = sum(o[2] for o in outs) / len(labels)
        acc = sum(o[3] for o in outs) / len(labels)
        return dWs, dfs, loss, acc


def schedule(progress: float, cfg: TrainConfig) -> float:
    """Cosine factor from 1 down to lr_min_frac as progress goes 0 -> 1."""
    p = min(max(progress, 0.0), 1.0)
    return cfg.lr_min_frac + (1 - cfg.lr_min_frac) * 0.5 * (1 + math.cos(math.pi * p))


SILENT_BELOW, SATURATED_ABOVE, FALLBACK_ABOVE = 0.01, 0.90, 0.99


def activity_warnings(figures: dict, widths) -> list[str]:
    """Warnings from ``Net.evaluate`` figures: a layer where fewer than 1% (silent) or more
    than 90% (saturated) of the neurons fire per image, or an output layer that (almost)
    never fires: more than 99% of the images left to the no-spike fallback."""
    out = []
    for l, (spikes, width) in enumerate(zip(figures["mean_spikes"], widths[1:])):
        frac = spikes / width
        if frac < SILENT_BELOW or frac > SATURATED_ABOVE:
            what, fix = (("silent", "lower") if frac < SILENT_BELOW else ("saturated", "raise"))
            out.append(f"warning: layer {l} ({width} neurons) is {what}: {100 * frac:.1f}% of "
                       f"its neurons fire per validation image; {fix} its --theta")
    fallback = figures["no_spike"] / max(figures["n"], 1)
    if fallback > FALLBACK_ABOVE:
        out.append(f"warning: no output neuron fires on {100 * fallback:.0f}% of the validation "
                   "images (decided by the no-spike fallback); lower the last --theta")
    return out


def activity_thetas(cfg: TrainConfig, images: np.ndarray) -> TrainConfig:
    """``cfg`` with the default thresholds of its layers for the activity of ``images``
    (model.config.fan_in_thetas: the first dense layer follows the mean input spikes)."""
    arch = cfg.layers()
    events = float((images.reshape(len(images), -1) > 0).sum(axis=1).mean())
    theta = fan_in_thetas(widths_of(arch), arch, input_events=events)
    validate_network(widths_of(arch), theta, where="default --theta",
                     layers=None if is_dense(arch) else to_dicts(arch))
    return replace(cfg, theta=theta)


def run_epoch(trainer: Trainer, x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
              epoch: int, t0: float, budget: float, progress: bool):
    """One pass over (x, y) in a random order, stopping early once ``budget`` seconds since
    ``t0`` are spent. Returns (losses, accuracies, samples, budget reached)."""
    from tqdm import tqdm
    cfg, net = trainer.cfg, trainer.net
    n, B = len(y), cfg.batch_size
    steps_per_epoch = math.ceil(n / B)
    order = rng.permutation(n)
    bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{cfg.epochs or '-'}", leave=False,
               disable=not progress, mininterval=2.0, file=sys.stderr)
    losses, accs, samples, stop = [], [], 0, False
    for k in bar:
        idx = order[k * B:(k + 1) * B]
        done = (epoch - 1 + k / steps_per_epoch) / cfg.epochs if cfg.epochs else 0.0
        frac = max(done, (time.time() - t0) / budget)
        f = schedule(frac, cfg)
        trainer.rule_cfg = ramped(cfg, frac)
        loss, acc = trainer.step(translate(x[idx], cfg.shift, rng), y[idx],
                                 cfg.lr * f, cfg.lr_f * f)
        losses.append(loss)
        accs.append(acc)
        samples += len(idx)
        if k % 20 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}",
                            acc=f"{np.mean(accs[-50:]):.3f}", theta=net.thetas)
        if time.time() - t0 > budget:
            stop = True
            break
    bar.close()
    return losses, accs, samples, stop


def train(cfg: TrainConfig, data_dir=None, out: str | Path | None = None, progress=True,
          log=print):
    """Train; returns (Checkpoint, history). Saves the checkpoint and its plot if out is set."""
    theta_given = bool(cfg.theta)
    cfg = cfg.resolved()
    ds = load(cfg.dataset, data_dir, val_size=cfg.val_size)
    xtr, ytr = ds.train.images, ds.train.labels.astype(np.int64)
    if cfg.train_subset:
        xtr, ytr = xtr[:cfg.train_subset], ytr[:cfg.train_subset]
    if cfg.rule in ("decision", "bayes") and not theta_given:
        cfg = activity_thetas(cfg, xtr)
    rng = np.random.default_rng(cfg.seed)
    arch = cfg.layers()
    widths = widths_of(arch)
    net = Net(arch, cfg, rng)
    trainer = Trainer(net, cfg, rng, len(ytr))
    budget = cfg.max_minutes * 60 if cfg.max_minutes > 0 else float("inf")
    t0 = time.time()
    train_time = 0.0
    history, best, warned = [], None, set()
    samples = 0
    try:
        for epoch in range(1, cfg.epochs + 1) if cfg.epochs else itertools.count(1):
            te = time.time()
            losses, accs, done, stop = run_epoch(trainer, xtr, ytr, rng, epoch, t0, budget,
                                                 progress)
            samples += done
            train_time += time.time() - te
            val = (net.evaluate(ds.val.images, ds.val.labels) if len(ds.val)
                   else {"strict": 0.0, "paper": 0.0})
            rec = {"epoch": epoch, "loss": float(np.mean(losses)),
                   "train_acc": float(np.mean(accs)),
                   "val_strict": val["strict"], "val_paper": val["paper"], "theta": net.thetas,
                   "fact": [float(x) for x in net.fact], "elapsed_s": round(time.time() - t0, 1),
                   "train_s": round(train_time, 1), "samples": samples}
            history.append(rec)
            better = best is None or val["strict"] > best[0]["val_strict"]
            if better:
                best = (rec, [w.copy() for w in net.W], net.fact.copy())
            log(f"epoch {epoch}: loss {rec['loss']:.4f} train {rec['train_acc']:.4f} "
                f"val strict {val['strict']:.4f} paper {val['paper']:.4f} theta {net.thetas} "
                f"[{rec['elapsed_s']:.0f} s, {samples / max(train_time, 1e-9):.0f} samples/s]"
                + (" *" if better else ""))
            for line in activity_warnings(val, widths) if len(ds.val) else ():
                key = re.sub(r"[\d.]+%", "", line)          # once per layer and kind
                if key not in warned:
                    warned.add(key)
                    log(line + " (said once)")
            if stop:
                log(f"time budget of {cfg.max_minutes} min reached")
                break
    finally:
        trainer.close()
    rec, W, fact = best
    net.W, net.fact = W, fact
    test = net.evaluate(ds.test.images, ds.test.labels)
    val = net.evaluate(ds.val.images, ds.val.labels) if len(ds.val) else {}
    meta = {"mode": "real" if cfg.real else "binary", "thr": [cfg.thr] * len(W),
            "theta": net.thetas, "dataset": cfg.dataset, "data_sha256": ds.sha256,
            "config": asdict(cfg), "selected_epoch": rec["epoch"], "val": val, "test": test,
            **({} if is_dense(arch) else {"layers": to_dicts(arch), "arch": spec_of(arch)}),
            **({"distribution": DISTRIBUTION} if trainer.posterior else {}),
            "history": history, "train_seconds": round(train_time, 1),
            "samples_per_second": round(samples / max(train_time, 1e-9), 1)}
    ck = Checkpoint([w.astype(np.float32) for w in W], fact.astype(np.float64), meta)
    if out is not None:
        ck.save(out)
        name = widths if is_dense(arch) else spec_of(arch)
        plot_history(history, Path(out).with_suffix(".png"), title=f"{cfg.dataset} {name} "
                     f"({cfg.rule} rule)")
    return ck, history
