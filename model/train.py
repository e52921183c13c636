"""Train a BS4NN (Kheradpisheh, Mirsadeghi & Masquelier 2021, arXiv 2007.04039).

    python -m model.train --dataset mnist --out runs/mnist.npz
    python -m model.train --rule bs4nn --lr 1.0 --gamma 5 --no-spike s4nn   # SPEC section 5

The forward pass is always the integer contract (model.layer, the golden model) on the
signs of the latent real weights; only the backward differs between the rules:

* ``decision`` (default, model/decision_rule.py): cross-entropy on the output potentials at
  the decision step, whose argmax *is* the hardware's decision; binary-network backward
  with a surrogate derivative at each hidden threshold; Adam on latent weights clipped to
  [-1, 1]; fixed integer thresholds (``--theta``).
* ``bs4nn`` (model/bs4nn_rule.py): the paper's rule, target spike times and a temporal
  straight-through backward, learned threshold scale; SGD (or Adam).

Mini-batches are split over ``--threads`` worker threads (NumPy releases the GIL in the
heavy loops) and the slices' gradients summed. ``--shift`` adds random translations of up to
that many pixels. ``--real`` trains the S4NN-style real-valued variant (bs4nn rule only).
The epoch with the best validation accuracy (strict) is kept; the test set is only
evaluated at the end.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

# The trainer parallelises over threads itself; a multi-threaded BLAS on top of that only
# spins (set before NumPy is first imported, i.e. under ``python -m model.train``).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from . import bs4nn_rule, decision_rule
from .checkpoint import Checkpoint, binarize, theta_from_fact
from .data import DATASETS, DataError, load
from .decision import accuracy, decide
from contract.numerics import SILENT, encode_latency
from .layer import layer_forward
from .network import ForwardResult
from .realvalued import real_forward_times, real_layer_forward

RULES = {"decision": decision_rule, "bs4nn": bs4nn_rule}


@dataclass
class TrainConfig:
    dataset: str = "mnist"
    hidden: list = field(default_factory=lambda: [600])
    rule: str = "decision"       # "decision" or "bs4nn" (SPEC section 5)
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = ""          # "" = the rule's own: adam (decision), sgd (bs4nn)
    lr: float = 0.0              # 0 = the rule's default (5e-3 Adam / 0.1 SGD)
    lr_f: float = 0.01           # bs4nn: per-sample step on fact
    lr_min_frac: float = 0.05    # cosine decay of the steps down to this fraction
    theta: list = field(default_factory=lambda: [20, 40])   # decision rule: per layer
    tau: float = 4.0             # decision rule: softmax temperature on potentials
    surrogate: float = 4.0       # decision rule: surrogate half-width (potential units)
    clip: float = 1.0            # decision rule: latent weights in [-clip, clip]
    gamma: int = 1               # bs4nn: target margin (time steps)
    thr: float = 100.0
    fact0: float = 5.0           # bs4nn: initial threshold scale
    init_hidden: float | list = 5.0  # bs4nn: W ~ U[0, init) per hidden layer (signs +1)
    init_out: float = 48.0       # bs4nn: W ~ U[0, init) for the output layer
    no_spike: str = "none"       # bs4nn: "none" (reference) or "s4nn"
    real: bool = False           # bs4nn: S4NN-style real-valued forward
    shift: int = 0               # random translation augmentation, pixels
    threads: int = 0             # 0 = one per CPU (at most 4)
    seed: int = 0
    val_size: int = 5000
    max_minutes: float = 0.0     # 0 = no time budget
    train_subset: int = 0        # 0 = the whole training split (tests use a subset)

    def resolved(self) -> "TrainConfig":
        """Fill in the rule-dependent defaults; raises ValueError on bad values."""
        if self.rule not in RULES:
            raise ValueError(f"rule {self.rule!r}: expected one of {sorted(RULES)}")
        if self.real and self.rule != "bs4nn":
            raise ValueError("--real trains with the bs4nn rule only")
        opt = self.optimizer or ("adam" if self.rule == "decision" else "sgd")
        if opt not in ("sgd", "adam"):
            raise ValueError(f"optimizer {opt!r}: expected sgd or adam")
        lr = self.lr or (5e-3 if opt == "adam" else 0.1)
        theta = list(self.theta)
        if self.rule == "decision":
            layers = len(self.hidden) + 1
            if len(theta) == 1:
                theta = theta * layers
            if len(theta) != layers or min(theta) < 1:
                raise ValueError(f"theta {self.theta}: expected {layers} integers >= 1")
        threads = self.threads or min(4, os.cpu_count() or 1)
        return TrainConfig(**{**asdict(self), "optimizer": opt, "lr": lr, "theta": theta,
                              "threads": threads})


class Net:
    """Latent weights (out, in) float32 per layer and the threshold scales fact (L,)."""

    def __init__(self, widths, cfg: TrainConfig, rng: np.random.Generator):
        self.widths = list(widths)
        self.thr = float(cfg.thr)
        self.real = bool(cfg.real)
        L = len(widths) - 1
        self.W = []
        for l in range(L):
            shape = (widths[l + 1], widths[l])
            if cfg.rule == "decision":
                w = rng.uniform(-cfg.clip, cfg.clip, shape)
            else:
                ih = cfg.init_hidden if isinstance(cfg.init_hidden, (list, tuple)) else [cfg.init_hidden]
                hi = cfg.init_out if l == L - 1 else float(ih[min(l, len(ih) - 1)])
                w = rng.uniform(0.0, hi, shape)
            self.W.append(w.astype(np.float32))
        if cfg.rule == "decision":
            # floor(thr / fact) + 1 == theta exactly
            self.fact = np.array([self.thr / (t - 0.5) for t in cfg.theta], np.float64)
        else:
            self.fact = np.full(L, cfg.fact0, np.float64)
        self.adam = [(np.zeros_like(w), np.zeros_like(w)) for w in self.W]
        self.steps = 0

    def update(self, dWs, dfs, lr: float, lr_f: float, optimizer: str = "sgd",
               clip: float = 0.0, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        """Gradient step on the latent weights (SGD or Adam, then clipping) and SGD on fact."""
        self.steps += 1
        for l, dW in enumerate(dWs):
            if optimizer == "adam":
                m, v = self.adam[l]
                m *= b1
                m += (1 - b1) * dW
                v *= b2
                v += (1 - b2) * dW * dW
                mh = m / (1 - b1 ** self.steps)
                vh = v / (1 - b2 ** self.steps)
                self.W[l] -= np.float32(lr) * mh / (np.sqrt(vh) + eps)
            else:
                self.W[l] -= np.float32(lr) * dW
            if clip:
                np.clip(self.W[l], -clip, clip, out=self.W[l])
            if dfs[l]:
                self.fact[l] = max(self.fact[l] - lr_f * dfs[l], 1e-3)

    @property
    def thetas(self) -> list[int]:
        return [theta_from_fact(self.thr, f) for f in self.fact]

    def binary(self) -> list[np.ndarray]:
        return [binarize(w) for w in self.W]

    def layers(self, s_in: np.ndarray):
        """Per-layer LayerResults on input spike times (B, N0): the integer contract
        (binarize(W), theta) or, with real=True, the real-valued S4NN forward."""
        out, s = [], s_in
        bins = None if self.real else self.binary()
        for l in range(len(self.W)):
            if self.real:
                r = real_layer_forward(s, self.W[l], self.thr / self.fact[l])
            else:
                r = layer_forward(s, bins[l], self.thetas[l])
            out.append(r)
            s = r.spikes
        return out

    def forward_times(self, s_in: np.ndarray) -> ForwardResult:
        if self.real:
            return real_forward_times(s_in, self.W, [self.thr / f for f in self.fact])
        rs = self.layers(s_in)
        r = rs[-1]
        return ForwardResult([x.spikes for x in rs], r.v_cross, r.v_final,
                             decide(r.spikes, r.v_cross, r.v_final))

    def evaluate(self, images: np.ndarray, labels: np.ndarray, batch: int = 1000) -> dict:
        """strict / paper accuracy, ties, no-spike count, mean spikes per layer."""
        n = len(labels)
        correct = paper = ties = nospike = 0
        spikes = np.zeros(len(self.W))
        for lo in range(0, n, batch):
            f = self.forward_times(encode_latency(images[lo:lo + batch]))
            y = labels[lo:lo + batch]
            st, pa = accuracy(f.decision, y)
            m = len(y)
            correct += st * m
            paper += pa * m
            ties += int(f.decision.tie.sum())
            nospike += int(f.decision.no_spike.sum())
            spikes += [float((s < SILENT).sum()) for s in f.spikes]
        return {"strict": round(correct / n, 6), "paper": round(paper / n, 6), "ties": ties,
                "no_spike": nospike, "n": n, "mean_spikes": [round(s / n, 3) for s in spikes]}


def translate(images: np.ndarray, shift: int, rng: np.random.Generator, side: int = 28) -> np.ndarray:
    """Each (side*side,) image moved by a random (dx, dy) in [-shift, shift], zero filled."""
    if not shift:
        return images
    B = len(images)
    pad = np.zeros((B, side + 2 * shift, side + 2 * shift), images.dtype)
    pad[:, shift:shift + side, shift:shift + side] = images.reshape(B, side, side)
    dx, dy = rng.integers(0, 2 * shift + 1, (2, B))
    r = np.arange(side)
    rows = (dy[:, None] + r)[:, :, None]
    cols = (dx[:, None] + r)[:, None, :]
    return pad[np.arange(B)[:, None, None], rows, cols].reshape(B, side * side)


class Trainer:
    """One training step at a time: the batch split over worker threads, gradients summed."""

    def __init__(self, net: Net, cfg: TrainConfig):
        self.net, self.cfg = net, cfg
        self.rule = RULES[cfg.rule]
        self.pool = ThreadPoolExecutor(cfg.threads) if cfg.threads > 1 else None

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()

    def step(self, images: np.ndarray, labels: np.ndarray, lr: float, lr_f: float):
        """Forward (integer contract), backward, update. Returns (mean loss, accuracy)."""
        s_in = encode_latency(images)
        parts = np.array_split(np.arange(len(labels)), self.cfg.threads)
        parts = [p for p in parts if len(p)]
        job = lambda p: self.rule.gradients(self.net, s_in[p], labels[p], self.cfg)  # noqa: E731
        outs = list(self.pool.map(job, parts)) if self.pool and len(parts) > 1 else [job(p) for p in parts]
        dWs = [sum(o[0][l] for o in outs) for l in range(len(self.net.W))]
        dfs = sum(o[1] for o in outs)
        loss = sum(o[2] for o in outs) / len(labels)
        acc = sum(o[3] for o in outs) / len(labels)
        self.net.update(dWs, dfs, lr, lr_f, self.cfg.optimizer,
                        self.cfg.clip if self.cfg.rule == "decision" else 0.0)
        return loss, acc


def schedule(progress: float, cfg: TrainConfig) -> float:
    """Cosine factor from 1 down to lr_min_frac as progress goes 0 -> 1."""
    p = min(max(progress, 0.0), 1.0)
    return cfg.lr_min_frac + (1 - cfg.lr_min_frac) * 0.5 * (1 + math.cos(math.pi * p))


def train(cfg: TrainConfig, data_dir=None, out: str | Path | None = None, progress=True,
          log=print):
    """Train; returns (Checkpoint, history). Saves the checkpoint and its plot if out is set."""
    from tqdm import tqdm
    cfg = cfg.resolved()
    ds = load(cfg.dataset, data_dir, val_size=cfg.val_size)
    xtr, ytr = ds.train.images, ds.train.labels.astype(np.int64)
    if cfg.train_subset:
        xtr, ytr = xtr[:cfg.train_subset], ytr[:cfg.train_subset]
    rng = np.random.default_rng(cfg.seed)
    widths = [xtr.shape[1], *cfg.hidden, 10]
    net = Net(widths, cfg, rng)
    trainer = Trainer(net, cfg)
    budget = cfg.max_minutes * 60 if cfg.max_minutes > 0 else float("inf")
    t0 = time.time()
    train_time = 0.0
    history, best = [], None
    samples = 0
    n, B = len(ytr), cfg.batch_size
    steps_per_epoch = math.ceil(n / B)
    stop = False
    try:
        for epoch in range(1, cfg.epochs + 1):
            order = rng.permutation(n)
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{cfg.epochs}", leave=False,
                       disable=not progress, mininterval=2.0, file=sys.stderr)
            losses, accs = [], []
            te = time.time()
            for k in bar:
                idx = order[k * B:(k + 1) * B]
                frac = max((epoch - 1 + k / steps_per_epoch) / cfg.epochs,
                           (time.time() - t0) / budget)
                f = schedule(frac, cfg)
                loss, acc = trainer.step(translate(xtr[idx], cfg.shift, rng), ytr[idx],
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
            train_time += time.time() - te
            val = (net.evaluate(ds.val.images, ds.val.labels) if len(ds.val)
                   else {"strict": 0.0, "paper": 0.0})
            rec = {"epoch": epoch, "loss": float(np.mean(losses)), "train_acc": float(np.mean(accs)),
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
            "history": history, "train_seconds": round(train_time, 1),
            "samples_per_second": round(samples / max(train_time, 1e-9), 1)}
    ck = Checkpoint([w.astype(np.float32) for w in W], fact.astype(np.float64), meta)
    if out is not None:
        ck.save(out)
        plot_history(history, Path(out).with_suffix(".png"), title=f"{cfg.dataset} {widths} "
                     f"({cfg.rule} rule)")
    return ck, history


def plot_history(history, path: Path, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ep, [h["loss"] for h in history], "o-")
    a.set_xlabel("epoch")
    a.set_ylabel("training loss (per sample)")
    b.plot(ep, [h["train_acc"] for h in history], "o-", label="train (running)")
    b.plot(ep, [h["val_strict"] for h in history], "o-", label="val strict")
    b.plot(ep, [h["val_paper"] for h in history], "o--", label="val paper")
    b.set_xlabel("epoch")
    b.set_ylabel("accuracy")
    b.legend()
    b.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m model.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=DATASETS, default=d.dataset)
    p.add_argument("--data-dir", default=None, help="folder with the IDX .gz files (or env BS4NN_DATA)")
    p.add_argument("--hidden", type=int, nargs="+", default=d.hidden, help="hidden widths (default 600)")
    p.add_argument("--rule", choices=sorted(RULES), default=d.rule,
                   help="learning rule (default decision; bs4nn = SPEC section 5)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=None,
                   help="default: adam (decision rule), sgd (bs4nn rule)")
    p.add_argument("--lr", type=float, default=None,
                   help="step size (default: 5e-3 with adam, 0.1 with sgd)")
    p.add_argument("--lr-min-frac", type=float, default=d.lr_min_frac)
    p.add_argument("--shift", type=int, default=d.shift,
                   help="random translations of up to N pixels (default 0)")
    p.add_argument("--threads", type=int, default=d.threads,
                   help="worker threads per batch (default: one per CPU, at most 4)")
    g = p.add_argument_group("decision rule")
    g.add_argument("--theta", type=int, nargs="+", default=d.theta,
                   help=f"integer threshold per layer (one value: all layers; default {d.theta})")
    g.add_argument("--tau", type=float, default=d.tau, help="softmax temperature (potential units)")
    g.add_argument("--surrogate", type=float, default=d.surrogate,
                   help="surrogate derivative half-width (potential units)")
    g.add_argument("--clip", type=float, default=d.clip, help="latent weights in [-clip, clip]")
    g = p.add_argument_group("bs4nn rule (SPEC section 5)")
    g.add_argument("--lr-f", type=float, default=d.lr_f)
    g.add_argument("--gamma", type=int, default=d.gamma)
    g.add_argument("--no-spike", choices=("none", "s4nn"), default=d.no_spike)
    g.add_argument("--init-hidden", type=float, nargs="+", default=[d.init_hidden],
                   help="W ~ U[0, x) per hidden layer (last value repeats; default 5)")
    g.add_argument("--init-out", type=float, default=d.init_out)
    g.add_argument("--fact0", type=float, default=d.fact0)
    g.add_argument("--real", action="store_true", help="S4NN-style real-valued weights in the forward")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--val-size", type=int, default=d.val_size)
    p.add_argument("--max-minutes", type=float, default=d.max_minutes, help="training time budget (0 = none)")
    p.add_argument("--train-subset", type=int, default=0, help="use only the first N training images")
    p.add_argument("--out", default=None, help="checkpoint path (default runs/<dataset>.npz)")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv=None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    cfg = TrainConfig(dataset=a.dataset, hidden=list(a.hidden), rule=a.rule, epochs=a.epochs,
                      batch_size=a.batch_size, optimizer=a.optimizer or "", lr=a.lr or 0.0,
                      lr_f=a.lr_f, lr_min_frac=a.lr_min_frac, theta=list(a.theta), tau=a.tau,
                      surrogate=a.surrogate, clip=a.clip, gamma=a.gamma, no_spike=a.no_spike,
                      init_hidden=a.init_hidden if len(a.init_hidden) > 1 else a.init_hidden[0],
                      init_out=a.init_out, fact0=a.fact0, real=a.real, shift=a.shift,
                      threads=a.threads, seed=a.seed, val_size=a.val_size,
                      max_minutes=a.max_minutes, train_subset=a.train_subset)
    try:
        cfg.resolved()
    except ValueError as exc:
        p.error(str(exc))
    out = a.out or f"runs/{a.dataset}{'-real' if a.real else ''}.npz"
    try:
        ck, hist = train(cfg, a.data_dir, out, progress=not a.no_progress,
                         log=lambda s: print(s, flush=True))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    m = ck.meta
    print(f"summary: {cfg.dataset} {ck.widths} {m['mode']} ({cfg.rule} rule) epoch "
          f"{m['selected_epoch']}/{len(hist)} val strict {m['val']['strict']:.4f} test strict "
          f"{m['test']['strict']:.4f} paper {m['test']['paper']:.4f} ties {m['test']['ties']} "
          f"no-spike {m['test']['no_spike']} theta {m['theta']} {m['samples_per_second']:.0f} "
          f"samples/s {m['train_seconds']:.0f} s -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
