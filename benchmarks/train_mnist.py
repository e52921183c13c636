"""Training throughput and time-to-accuracy of model.train, against the literal rule.

    python benchmarks/train_mnist.py --data-dir ../shared/data --checkpoint runs/mnist.npz \
        --out benchmarks/results/train_mnist.txt

1. Throughput on the same images: the baseline, the literal per-sample, time-stepped rule
   (model.rules.bs4nn_literal, what the authors' notebook does) on --literal-samples images,
   and the mini-batch trainer (model.train) with the bs4nn rule (same initial network) and
   with the decision rule, on --vector-samples images each, with 1 and --threads worker
   threads. Prints samples/s (wall and per CPU-second of the process, the latter less
   sensitive to other work on a shared machine), the ratios against the literal rule run
   here and against the project brief's 30 s per 1,000 samples for the authors' notebook,
   and the load average next to each figure. --profile N appends a cProfile of N samples of
   each rule (one thread).
2. Time-to-accuracy of a finished run: the per-epoch history stored in the checkpoint's
   metadata (validation strict / paper accuracy against training seconds), and its test
   figures.
The machine is shared, so figures measured here carry the load of the moment (printed).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

# One BLAS thread (set before NumPy is imported): on a shared 2-core machine threaded
# OpenBLAS spin-waits and the literal rule's 256 mat-vecs per layer become 30x slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numba  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_log import BenchLog, load_text  # noqa: E402
from model.checkpoint import load_checkpoint  # noqa: E402
from model.data import load  # noqa: E402
from model.config import TrainConfig  # noqa: E402
from model.loop import Trainer  # noqa: E402
from model.rules.bs4nn_literal import literal_step  # noqa: E402
from model.trainable import Net  # noqa: E402

REFERENCE_S_PER_1000 = 30.0   # the authors' notebook, 2 cores, NumPy (project brief)


def rule_config(name: str, batch: int, threads: int) -> TrainConfig:
    """The benchmark's settings of each rule (bs4nn: the paper's lr, gamma and no-spike)."""
    extra = dict(lr=1.0, gamma=5, no_spike="s4nn") if name == "bs4nn" else {}
    return TrainConfig(rule=name, batch_size=batch, threads=threads, **extra).resolved()


def first_steps(ds, batch: int, log) -> None:
    """The first training step of each rule, untimed below: it compiles the numba kernels
    (model.kernels) or loads them from their on-disk cache."""
    x, y = ds.train.images, ds.train.labels.astype(np.int64)
    for name in ("decision", "bs4nn"):
        cfg = rule_config(name, batch, 1)
        trainer = Trainer(Net([784, *cfg.hidden, 10], cfg, np.random.default_rng(0)), cfg)
        t = time.perf_counter()
        trainer.step(x[:batch], y[:batch], cfg.lr, cfg.lr_f)
        log(f"{name + ' rule, first step':38s}: {time.perf_counter() - t:6.2f} s (numba "
            f"{numba.__version__}: compiling the kernels, or loading them from the cache)")


def throughput(ds, n_literal: int, n_vector: int, batch: int, threads: int, log) -> dict:
    x, y = ds.train.images, ds.train.labels.astype(np.int64)
    ref_cfg = rule_config("bs4nn", batch, 1)
    net = Net([784, *ref_cfg.hidden, 10], ref_cfg, np.random.default_rng(ref_cfg.seed))
    W = [w.astype(np.float32).copy() for w in net.W]
    fact = net.fact.copy()
    t, c = time.perf_counter(), time.process_time()
    for k in range(n_literal):
        literal_step(W, fact, x[k], int(y[k]), ref_cfg.lr, ref_cfg.lr_f, ref_cfg.gamma,
                     ref_cfg.no_spike)
    lit = n_literal / (time.perf_counter() - t)
    lit_cpu = n_literal / (time.process_time() - c)
    log(f"{'baseline: literal per-sample rule':38s}: {n_literal:6d} samples, {lit:8.1f} samples/s "
        f"({1000 / lit:.1f} s per 1,000), {lit_cpu:8.1f} per CPU-s   ({load_text()})")
    ref = 1000 / REFERENCE_S_PER_1000
    out = {"literal": lit}
    for name in ("decision", "bs4nn"):
        for th in sorted({1, threads}):
            cfg = rule_config(name, batch, th)
            model = Net([784, *cfg.hidden, 10], cfg, np.random.default_rng(cfg.seed))
            trainer = Trainer(model, cfg)
            t, c = time.perf_counter(), time.process_time()
            for lo in range(0, n_vector, batch):
                trainer.step(x[lo:lo + batch], y[lo:lo + batch], cfg.lr, cfg.lr_f)
            vec = n_vector / (time.perf_counter() - t)
            vec_cpu = n_vector / (time.process_time() - c)
            trainer.close()
            label = f"{name} rule, B={batch}, {th} thread{'s' if th > 1 else ''}"
            log(f"{label:38s}: {n_vector:6d} samples, {vec:8.1f} samples/s ({1000 / vec:.2f} s per "
                f"1,000), {vec_cpu:8.1f} per CPU-s; {vec / lit:6.1f}x literal, {vec / ref:6.1f}x "
                f"the reference 30 s/1,000   ({load_text()})")
            out[f"{name}/{th}"] = vec
    return out


def profile(ds, n: int, batch: int, log) -> None:
    x, y = ds.train.images, ds.train.labels.astype(np.int64)
    for name in ("decision", "bs4nn"):
        cfg = rule_config(name, batch, 1)
        trainer = Trainer(Net([784, *cfg.hidden, 10], cfg, np.random.default_rng(0)), cfg)
        pr = cProfile.Profile()
        pr.enable()
        for lo in range(0, n, batch):
            trainer.step(x[lo:lo + batch], y[lo:lo + batch], cfg.lr, cfg.lr_f)
        pr.disable()
        s = io.StringIO()
        pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(12)
        log(f"## cProfile, {name} rule, {n} samples, B={batch}, 1 thread, by tottime "
            f"({load_text()})")
        log("\n".join(line for line in s.getvalue().splitlines() if line.strip()))


def time_to_accuracy(path: Path, log) -> None:
    ck = load_checkpoint(path)
    m = ck.meta
    log(f"run {path}: {m['dataset']} {ck.widths} {m['mode']}, config "
        + ", ".join(f"{k}={m['config'][k]}" for k in ("rule", "batch_size", "lr", "theta",
                                                     "shift", "threads", "optimizer",
                                                     "max_minutes") if k in m["config"]))
    log(" epoch  train_s  elapsed_s  samples  val_strict  val_paper  theta")
    for h in m["history"]:
        log(f" {h['epoch']:5d}  {h['train_s']:7.0f}  {h['elapsed_s']:9.0f}  {h['samples']:7d}"
            f"  {h['val_strict']:10.4f}  {h['val_paper']:9.4f}  {h['theta']}")
    for goal in (0.90, 0.95, 0.96, 0.97, 0.98):
        hit = [h for h in m["history"] if h["val_strict"] >= goal]
        log(f" val strict >= {goal:.2f}: " + (f"after {hit[0]['elapsed_s']:.0f} s (epoch "
                                              f"{hit[0]['epoch']})" if hit else "not reached"))
    t = m["test"]
    log(f" selected epoch {m['selected_epoch']}: val strict {m['val']['strict']:.4f}; TEST strict "
        f"{t['strict']:.4f} paper {t['paper']:.4f} ties {t['ties']} no-spike {t['no_spike']} "
        f"mean spikes {t['mean_spikes']}; training {m['train_seconds']:.0f} s at "
        f"{m['samples_per_second']:.0f} samples/s (whole run, incl. machine load)")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--literal-samples", type=int, default=200)
    p.add_argument("--vector-samples", type=int, default=3200)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--checkpoint", action="append", default=[],
                   help="finished run(s) whose time-to-accuracy to print")
    p.add_argument("--profile", type=int, default=0, help="cProfile N samples of each rule")
    p.add_argument("--out", default=None, help="also write the output here, command on top")
    a = p.parse_args(argv)
    log = BenchLog(__file__, argv)
    log(f"date {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} CPUs, "
        f"{load_text()} (1, 5, 15 min; shared machine)")
    ds = load(a.dataset, a.data_dir)
    first_steps(ds, a.batch_size, log)
    throughput(ds, a.literal_samples, a.vector_samples, a.batch_size, a.threads, log)
    if a.profile:
        profile(ds, a.profile, a.batch_size, log)
    for c in a.checkpoint:
        if Path(c).exists():
            time_to_accuracy(Path(c), log)
        else:
            log(f"{c}: not found, no time-to-accuracy figures")
    log.save(a.out)


if __name__ == "__main__":
    main()
