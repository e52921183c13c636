"""Train a BS4NN (Kheradpisheh, Mirsadeghi & Masquelier 2021, arXiv 2007.04039), SPEC section 5.

    python -m model.train --dataset mnist --hidden 600 --epochs 20 --out runs/mnist.npz

The rule, mini-batched and vectorised over the batch:

- latent real weights W per layer; the forward pass is the integer golden model itself
  (model.network / model.layer) on binarize(W) with theta_l = floor(thr / fact_l) + 1;
- output targets: t_min = min(o); target[y] = t_min, every other k with o_k < t_min + gamma
  gets min(t_min + gamma, T) (ties with the label are pushed out); if nothing fired either
  nothing is learnt (reference) or the label's neuron is pulled to T - gamma (S4NN);
- e = (target - o) / T, normalised to unit L2 norm per sample;
- temporal straight-through backward H[j, i] = [s_i < s_j]: dW = sum_b e_bj H_bji,
  e_below_i = sum_j W[j, i] e_j H[j, i], normalised per sample;
- fact_l -= lr_f * sum_b mean_ji(e_bj H_bji sign W_ji), thr = 100 fixed.

The per-sample updates of a batch are summed (lr is a per-sample step as in the reference's
batch size 1). ``--real`` trains the S4NN-style real-valued variant (model.realvalued).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .checkpoint import Checkpoint, binarize, theta_from_fact
from .data import DATASETS, load
from .decision import accuracy
from .encoding import SILENT, T, encode_latency
from .layer import layer_forward
from .network import ForwardResult
from .realvalued import _fixed, real_forward_times, real_layer_forward
from .decision import decide


@dataclass
class TrainConfig:
    dataset: str = "mnist"
    hidden: list = field(default_factory=lambda: [600])
    epochs: int = 20
    batch_size: int = 32
    lr: float = 0.1              # per-sample step on the latent weights
    lr_f: float = 0.01           # per-sample step on fact
    lr_min_frac: float = 0.1     # cosine decay of both steps down to this fraction
    gamma: int = 1               # target margin (time steps)
    thr: float = 100.0
    fact0: float = 5.0
    init_hidden: float | list = 5.0  # W ~ U[0, init) per hidden layer (all signs +1, reference);
                                     # a list gives one value per hidden layer (last repeats)
    init_out: float = 48.0       # W ~ U[0, init) for the output layer
    no_spike: str = "none"       # "none" (reference: learn nothing) or "s4nn"
    real: bool = False
    optimizer: str = "sgd"       # "sgd" (reference) or "adam" (lr is then Adam's step size)
    seed: int = 0
    val_size: int = 5000
    max_minutes: float = 0.0     # 0 = no time budget
    train_subset: int = 0        # 0 = the whole training split (tests use a subset)


class Net:
    """Latent weights (out, in) float32 per layer and the learned scales fact (L,)."""

    def __init__(self, widths, cfg: TrainConfig, rng: np.random.Generator):
        self.widths = list(widths)
        self.thr = float(cfg.thr)
        self.real = bool(cfg.real)
        L = len(widths) - 1
        self.W = []
        for l in range(L):
            ih = cfg.init_hidden if isinstance(cfg.init_hidden, (list, tuple)) else [cfg.init_hidden]
            hi = cfg.init_out if l == L - 1 else float(ih[min(l, len(ih) - 1)])
            self.W.append(rng.uniform(0.0, hi, (widths[l + 1], widths[l])).astype(np.float32))
        self.fact = np.full(L, cfg.fact0, np.float64)
        self.adam = [(np.zeros_like(w), np.zeros_like(w)) for w in self.W]
        self.steps = 0

    def update(self, dWs, dfs, lr: float, lr_f: float, optimizer: str = "sgd",
               b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        """Gradient step on the latent weights (SGD or Adam) and SGD on fact."""
        self.steps += 1
        for l, dW in enumerate(dWs):
            if optimizer == "adam":
                m, v = self.adam[l]
                m *= b1; m += (1 - b1) * dW
                v *= b2; v += (1 - b2) * dW * dW
                mh = m / (1 - b1 ** self.steps)
                vh = v / (1 - b2 ** self.steps)
                self.W[l] -= np.float32(lr) * mh / (np.sqrt(vh) + eps)
            else:
                self.W[l] -= np.float32(lr) * dW
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


def normalise(e: np.ndarray) -> np.ndarray:
    """Scale each row (sample) to unit L2 norm; zero rows stay zero."""
    n = np.sqrt((e * e).sum(axis=1, keepdims=True))
    return np.where(n > 0, e / np.where(n > 0, n, 1), 0).astype(np.float32)


def targets(o: np.ndarray, y: np.ndarray, gamma: int, no_spike: str = "none") -> np.ndarray:
    """Target output times (B, K) from output times o (B, K) and labels y (B,)."""
    o = o.astype(np.int32)
    B = len(y)
    rows = np.arange(B)
    t_min = o.min(axis=1)                                            # (B,)
    push = np.minimum(t_min + gamma, T)[:, None]
    tgt = np.where(o < t_min[:, None] + gamma, push, o)
    tgt[rows, y] = t_min
    silent = t_min >= SILENT
    if silent.any():
        tgt[silent] = T
        if no_spike == "s4nn":
            tgt[rows[silent], y[silent]] = T - gamma
    return tgt


def grad_sparse_inputs(s_in: np.ndarray, s_out: np.ndarray, e: np.ndarray) -> np.ndarray:
    """dW[j, i] = sum_b e[b, j] * [s_in[b, i] < s_out[b, j]] for mostly-late inputs.

    Only inputs that spiked before step 255 can precede a spike (times <= 255), so they are
    gathered as (b, i) pairs; the pairs (input at 255, silent neuron) are a dense product.
    Shapes: s_in (B, N_in), s_out (B, N_out), e (B, N_out) -> (N_out, N_in).
    """
    B, n_in = s_in.shape
    n_out = s_out.shape[1]
    early = s_in < T - 1                                            # (B, N_in)
    ii, bb = np.nonzero(early.T)                                     # pairs sorted by input i
    dWt = np.zeros((n_in, n_out), np.float32)
    if len(ii):
        g = np.where(s_out[bb] > s_in[bb, ii][:, None], e[bb], 0)   # (P, N_out)
        starts = np.flatnonzero(np.r_[True, ii[1:] != ii[:-1]])
        dWt[ii[starts]] = np.add.reduceat(g, starts, axis=0)
    late = (s_in >= T - 1) & (s_in < SILENT)                         # inputs at 255
    silent_e = np.where(s_out >= SILENT, e, 0).astype(np.float32)    # neurons never fired
    if late.any() and silent_e.any():
        dWt += late.T.astype(np.float32) @ silent_e
    return dWt.T


def backward(net: Net, s_in: np.ndarray, layers, y: np.ndarray, cfg: TrainConfig):
    """Gradients (dW per layer, dfact per layer) and the batch loss, per SPEC section 5."""
    o = layers[-1].spikes
    tgt = targets(o, y, cfg.gamma, cfg.no_spike)
    e_raw = (tgt - o.astype(np.int32)).astype(np.float32) / T
    loss = float((e_raw ** 2).sum(axis=1).mean())
    e = normalise(e_raw)
    L = len(net.W)
    dWs, dfs = [None] * L, np.zeros(L)
    for l in range(L - 1, -1, -1):
        below = s_in if l == 0 else layers[l - 1].spikes               # (B, N_in)
        s_out = layers[l].spikes                                       # (B, N_out)
        if l == 0:
            dW = grad_sparse_inputs(below, s_out, e)
        else:
            H = (below[:, None, :] < s_out[:, :, None]).astype(np.float32)  # (B, N_out, N_in)
            eH = e[:, :, None] * H
            dW = eH.sum(axis=0)
            e = normalise(np.einsum("bji,ji->bi", eH, net.W[l], optimize=True))
        sgn = np.where(net.W[l] >= 0, 1.0, -1.0).astype(np.float32)
        dfs[l] = float((sgn * dW).sum()) / dW.size
        dWs[l] = dW
    return dWs, dfs, loss


def train_step(net: Net, images: np.ndarray, labels: np.ndarray, cfg: TrainConfig,
               lr: float, lr_f: float) -> tuple[float, float]:
    """One mini-batch: forward (integer contract), backward, update. Returns (loss, acc)."""
    s_in = encode_latency(images)
    layers = net.layers(s_in)
    r = layers[-1]
    if net.real:
        d = decide(r.spikes, _fixed(r.v_cross), _fixed(r.v_final))
    else:
        d = decide(r.spikes, r.v_cross, r.v_final)
    dWs, dfs, loss = backward(net, s_in, layers, labels, cfg)
    net.update(dWs, dfs, lr, lr_f, cfg.optimizer)
    acc = float((d.label == labels).mean())
    return loss, acc


def schedule(progress: float, cfg: TrainConfig) -> float:
    """Cosine factor from 1 down to lr_min_frac as progress goes 0 -> 1."""
    p = min(max(progress, 0.0), 1.0)
    return cfg.lr_min_frac + (1 - cfg.lr_min_frac) * 0.5 * (1 + math.cos(math.pi * p))


def train(cfg: TrainConfig, data_dir=None, out: str | Path | None = None, progress=True,
          log=print):
    """Train; returns (Checkpoint, history). Saves the checkpoint and its plot if out is set."""
    from tqdm import tqdm
    ds = load(cfg.dataset, data_dir, val_size=cfg.val_size)
    xtr, ytr = ds.train.images, ds.train.labels.astype(np.int64)
    if cfg.train_subset:
        xtr, ytr = xtr[:cfg.train_subset], ytr[:cfg.train_subset]
    rng = np.random.default_rng(cfg.seed)
    widths = [xtr.shape[1], *cfg.hidden, 10]
    net = Net(widths, cfg, rng)
    budget = cfg.max_minutes * 60 if cfg.max_minutes > 0 else float("inf")
    t0 = time.time()
    train_time = 0.0
    history, best = [], None
    samples = 0
    n, B = len(ytr), cfg.batch_size
    steps_per_epoch = math.ceil(n / B)
    stop = False
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
            loss, acc = train_step(net, xtr[idx], ytr[idx], cfg, cfg.lr * f, cfg.lr_f * f)
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
        val = net.evaluate(ds.val.images, ds.val.labels) if len(ds.val) else {"strict": 0.0, "paper": 0.0}
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
        plot_history(history, Path(out).with_suffix(".png"), title=f"{cfg.dataset} {widths}")
    return ck, history


def plot_history(history, path: Path, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ep, [h["loss"] for h in history], "o-")
    a.set_xlabel("epoch"); a.set_ylabel("train loss (sum ((target - o) / T)^2)")
    b.plot(ep, [h["train_acc"] for h in history], "o-", label="train (running)")
    b.plot(ep, [h["val_strict"] for h in history], "o-", label="val strict")
    b.plot(ep, [h["val_paper"] for h in history], "o--", label="val paper")
    b.set_xlabel("epoch"); b.set_ylabel("accuracy"); b.legend(); b.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=DATASETS, default=d.dataset)
    p.add_argument("--data-dir", default=None, help="folder with the IDX .gz files (or env BS4NN_DATA)")
    p.add_argument("--hidden", type=int, nargs="+", default=d.hidden, help="hidden widths (default 600)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--lr-f", type=float, default=d.lr_f)
    p.add_argument("--lr-min-frac", type=float, default=d.lr_min_frac)
    p.add_argument("--gamma", type=int, default=d.gamma)
    p.add_argument("--no-spike", choices=("none", "s4nn"), default=d.no_spike)
    p.add_argument("--init-hidden", type=float, nargs="+", default=[d.init_hidden],
                   help="W ~ U[0, x) per hidden layer (last value repeats; default 5)")
    p.add_argument("--init-out", type=float, default=d.init_out)
    p.add_argument("--fact0", type=float, default=d.fact0)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=d.optimizer)
    p.add_argument("--real", action="store_true", help="S4NN-style real-valued weights in the forward")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--val-size", type=int, default=d.val_size)
    p.add_argument("--max-minutes", type=float, default=d.max_minutes, help="training time budget (0 = none)")
    p.add_argument("--train-subset", type=int, default=0, help="use only the first N training images")
    p.add_argument("--out", default=None, help="checkpoint path (default runs/<dataset>.npz)")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv=None) -> None:
    a = build_parser().parse_args(argv)
    cfg = TrainConfig(dataset=a.dataset, hidden=list(a.hidden), epochs=a.epochs,
                      batch_size=a.batch_size, lr=a.lr, lr_f=a.lr_f, lr_min_frac=a.lr_min_frac,
                      gamma=a.gamma, no_spike=a.no_spike, init_hidden=a.init_hidden if len(a.init_hidden) > 1 else a.init_hidden[0],
                      init_out=a.init_out, fact0=a.fact0, real=a.real, optimizer=a.optimizer, seed=a.seed,
                      val_size=a.val_size, max_minutes=a.max_minutes, train_subset=a.train_subset)
    out = a.out or f"runs/{a.dataset}{'-real' if a.real else ''}.npz"
    ck, hist = train(cfg, a.data_dir, out, progress=not a.no_progress,
                     log=lambda s: print(s, flush=True))
    m = ck.meta
    print(f"summary: {cfg.dataset} {ck.widths} {m['mode']} epoch {m['selected_epoch']}/"
          f"{len(hist)} val strict {m['val']['strict']:.4f} test strict {m['test']['strict']:.4f} "
          f"paper {m['test']['paper']:.4f} ties {m['test']['ties']} no-spike "
          f"{m['test']['no_spike']} theta {m['theta']} {m['samples_per_second']:.0f} samples/s "
          f"{m['train_seconds']:.0f} s -> {out}", flush=True)


if __name__ == "__main__":
    main()
