"""Accuracy against cycles per image for networks trained with the early-decision term
(``python -m model.train --early WEIGHT``, docs/numerics.md, "Training rules").

    python benchmarks/early_decisions.py --weights 0 0.3 1 --max-minutes 6 \
        --out benchmarks/results/early_decisions_mnist.txt
    python benchmarks/early_decisions.py --weights 0.01 0.03 --rivals ...   (--early-rivals)
    python benchmarks/early_decisions.py --weights 0.003 --rivals --relative --shift 1 \
        --early-step 40 --max-minutes 4 ...     (--early-relative, shifted training images)
    python benchmarks/early_decisions.py --checkpoints runs/early/*.npz --out ...

Trains one network per weight (same seed and options otherwise; checkpoints kept under
--runs-dir), or takes given checkpoints, and for each reports on the test set: strict
and paper accuracy, the shares of tied decisions and of images decided by the no-spike
fallback, the mean decision step, and the mean and p99 cycles per image of the core with
its default parameters in early mode (the exact cycle model, hdl/cycle_model.py, on
golden spike traces). Writes the table (the
command and the load average on top) to --out and the plot of accuracy against mean
cycles next to it (.png).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_log import BenchLog, load_text  # noqa: E402

from contract.events import images_to_events  # noqa: E402
from hdl.core import BS4NNCore  # noqa: E402
from hdl.cycle_model import predict_many  # noqa: E402
from hdl.network import CoreNetwork  # noqa: E402
from model.checkpoint import load_checkpoint  # noqa: E402
from model.config import TrainConfig  # noqa: E402
from model.data import load  # noqa: E402
from model.decision import accuracy  # noqa: E402
from model.loop import train  # noqa: E402
from model.network import forward  # noqa: E402

HEADER = (f"{'weight':>6} {'R':>4} {'rivals':>6} {'theta':>8} {'strict':>7} {'paper':>7} {'ties':>7} "
          f"{'no-spike':>8} {'step':>6} "
          f"{'cycles':>7} {'p99':>5}  checkpoint")

TRAINING = ("hidden", "theta", "epochs", "max_minutes", "threads", "seed", "shift", "early",
            "early_step", "early_rivals", "early_relative", "early_warmup")
VARIANTS = {"no": ("o-", "--early"), "yes": ("s--", "--early-rivals"),
            "rel": ("^:", "--early-rivals --early-relative")}
# The project's targets: (strict accuracy %, mean cycles per test image) per dataset.
TARGETS = {"mnist": (97.5, 80), "fashion-mnist": (87.5, 220)}


def figures(path: Path, data_dir, threads: int) -> dict:
    """Test-set figures of one checkpoint (its dataset), cycles of the default core."""
    ck = load_checkpoint(path)
    ds = load(ck.meta.get("dataset", "mnist"), data_dir, download=False)
    x, y = ds.test.images.reshape(len(ds.test), -1), ds.test.labels
    f = forward(x, ck.binary_weights, ck.thetas, threads=threads)
    d = f.decision
    core = BS4NNCore(CoreNetwork.from_weights(ck.binary_weights, ck.thetas), debug_port=False)
    offsets, ev_t, _ = images_to_events(x)
    c = predict_many(offsets, ev_t, f.spikes, full=False, timing=core.timing)
    cfg = ck.meta.get("config", {})
    rivals = ("rel" if cfg.get("early_relative") else "yes") if cfg.get("early_rivals") else "no"
    return {"dataset": ck.meta.get("dataset", "mnist"), "weight": cfg.get("early", 0.0),
            "step_ref": cfg.get("early_step", 0), "rivals": rivals,
            "theta": "/".join(map(str, ck.thetas)),
            "strict": accuracy(d, y)[0], "paper": accuracy(d, y)[1],
            "ties": float(d.tie.mean()), "no_spike": float(d.no_spike.mean()),
            "step": float(d.step.mean()), "cycles": float(c.mean()),
            "p99": float(np.percentile(c, 99)), "path": str(path)}


def row(r: dict) -> str:
    return (f"{r['weight']:6g} {r['step_ref']:4d} {r['rivals']:>6} {r['theta']:>8} "
            f"{r['strict']:7.4f} {r['paper']:7.4f} "
            f"{100 * r['ties']:6.2f}% "
            f"{100 * r['no_spike']:7.2f}% {r['step']:6.1f} {r['cycles']:7.1f} "
            f"{r['p99']:5.0f}  {r['path']}")


def plot(rows: list[dict], png: Path, dataset: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for rivals, (style, label) in VARIANTS.items():
        part = [r for r in rows if r["rivals"] == rivals or r["weight"] == 0]
        if not any(r["rivals"] == rivals and r["weight"] > 0 for r in part):
            continue
        xs, ys = [r["cycles"] for r in part], [100 * r["strict"] for r in part]
        ax.plot(xs, ys, style, label=label)
        for r, x, y in zip(part, xs, ys):
            ax.annotate(f"{r['weight']:g}/{r['step_ref']}", (x, y), textcoords="offset points",
                        xytext=(4, 4), fontsize=7)
    ax.legend(title="weight w / step R", fontsize=8)
    ax.set_xlabel("mean cycles per test image (core defaults, early mode)")
    ax.set_ylabel("strict test accuracy (%)")
    if dataset in TARGETS:
        acc, cycles = TARGETS[dataset]
        ax.axhline(acc, color="grey", ls="--", lw=1)
        ax.axvline(cycles, color="grey", ls="--", lw=1)
        ax.set_title(f"{dataset}: early-decision term (targets: >= {acc}%, <= {cycles} cycles)",
                     fontsize=9)
    else:
        ax.set_title(f"{dataset}: early-decision term", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.3, 1.0],
                    help="--early weights to train (default %(default)s)")
    ap.add_argument("--checkpoints", nargs="+", help="report these instead of training")
    ap.add_argument("--early-step", type=int, default=TrainConfig.early_step)
    ap.add_argument("--rivals", action="store_true", help="train with --early-rivals")
    ap.add_argument("--relative", action="store_true", help="train with --early-relative")
    ap.add_argument("--shift", type=int, default=0, help="train with --shift N")
    ap.add_argument("--warmup", type=float, default=0.0, help="train with --early-warmup F")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--hidden", type=int, nargs="+", default=[600])
    ap.add_argument("--theta", type=int, nargs="+", default=[])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--max-minutes", type=float, default=6.0, help="per training run")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-subset", type=int, default=0, help="first N training images only")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--runs-dir", default="runs/early", help="where trained checkpoints go")
    ap.add_argument("--out", default="benchmarks/results/early_decisions.txt")
    a = ap.parse_args(argv)
    log = BenchLog(__file__, argv)
    log(f"# {load_text()} (start; 2 shared cores)")
    paths = [Path(p) for p in a.checkpoints or []]
    for path in paths:
        m = load_checkpoint(path).meta
        log(f"# {path}: trained {m['train_seconds']:.0f} s ({m['samples_per_second']:.0f} "
            f"samples/s), {len(m['history'])} epochs, epoch {m['selected_epoch']} kept; "
            f"config {dict((k, m['config'][k]) for k in TRAINING if k in m['config'])}")
    for w in [] if a.checkpoints else a.weights:
        name = (f"{a.dataset}-{'-'.join(map(str, a.hidden))}-early{w:g}"
                f"{'r' if a.rivals else ''}{'rel' if a.relative else ''}-R{a.early_step}"
                f"{''.join(f'-t{t}' for t in a.theta)}{f'-s{a.shift}' if a.shift else ''}"
                f"{f'-wu{a.warmup:g}' if a.warmup else ''}")
        path = Path(a.runs_dir) / f"{name}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        cfg = TrainConfig(dataset=a.dataset, hidden=a.hidden, theta=a.theta, epochs=a.epochs,
                          max_minutes=a.max_minutes, threads=a.threads, seed=a.seed,
                          early=w, early_step=a.early_step, early_rivals=a.rivals,
                          early_relative=a.relative, shift=a.shift, early_warmup=a.warmup,
                          train_subset=a.train_subset)
        t0 = time.time()
        ck, hist = train(cfg, a.data_dir, path, progress=False, log=lambda s: None)
        log(f"# trained --early {w:g} --early-step {a.early_step}"
            f"{' --early-rivals' if a.rivals else ''}{' --early-relative' if a.relative else ''}"
            f"{f' --shift {a.shift}' if a.shift else ''}"
            f"{f' --early-warmup {a.warmup:g}' if a.warmup else ''}: {len(hist)} epochs, "
            f"{ck.meta['history'][-1]['samples']} samples in {time.time() - t0:.0f} s "
            f"({ck.meta['samples_per_second']:.0f} samples/s), epoch "
            f"{ck.meta['selected_epoch']} kept; {load_text()}")
        paths.append(path)
    log(HEADER)
    rows = []
    for path in paths:
        rows.append(figures(path, a.data_dir, a.threads))
        log(row(rows[-1]))
    log(f"# cycles: hdl/cycle_model.py, BS4NNCore defaults, early mode; {load_text()} (end)")
    log.save(a.out)
    png = Path(a.out).with_suffix(".png")
    plot(sorted(rows, key=lambda r: r["cycles"]), png, rows[0]["dataset"])
    print(f"plot: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
