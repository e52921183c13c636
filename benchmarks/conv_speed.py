"""Speed of conv networks: the event-driven conv kernels (model.kernels.conv, conv_grad)
against the dense path they replace, in the same run.

    python benchmarks/conv_speed.py --data-dir ../shared/data \
        --out benchmarks/results/conv_speed.txt

1. Training samples/s (decision rule, batches of --batch, one thread, model.loop.Trainer
   steps on MNIST training images) for each --specs network: the dense path (the compiled
   dense scan on model.conv.conv_rows for the forward and peaks, model.conv's NumPy
   kernel_grad and spread_back) and the new kernels, and their ratio. The first step of
   each is left out (numba compiles or loads its cache).
2. Golden forward images/s (model.network.forward, one thread, batches of 1000) of a
   --golden-spec network briefly trained (--golden-train samples, one epoch) on --images
   MNIST test images with the new kernels and on --old-images with the dense NumPy scan
   (model.layer.layer_from_rows on conv_rows, what run_layers ran before); the results on
   the common images are checked equal.
--profile N: a cProfile (top functions by own time) of N training steps of the last spec,
both paths. The machine is shared, so the load average goes next to every figure.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bench_log import BenchLog, load_text  # noqa: E402
from model import conv, network  # noqa: E402
from model.arch import parse_arch  # noqa: E402
from model.config import TrainConfig  # noqa: E402
from model.data import load  # noqa: E402
from model.layer import layer_from_rows  # noqa: E402
from model.loop import Trainer, train  # noqa: E402
from model.rules import decision_ce  # noqa: E402
from model.trainable import Net  # noqa: E402

SPECS = ["conv4k5,pool2,fc10", "conv16k5,pool2,fc10", "conv16k5,pool2,conv32k5,pool2,fc10"]


@contextlib.contextmanager
def dense_path():
    """The decision rule's conv layers on the dense path while inside."""
    saved = {n: getattr(decision_ce, n) for n in
             ("conv_forward", "conv_peaks", "conv_kernel_grad", "conv_spread_back")}
    decision_ce.conv_forward, decision_ce.conv_peaks = conv.reference_forward, conv.reference_peaks
    decision_ce.conv_kernel_grad, decision_ce.conv_spread_back = conv.kernel_grad, conv.spread_back
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(decision_ce, n, f)


@contextlib.contextmanager
def dense_golden():
    """model.network.run_layers' conv layers on the NumPy scan of conv_rows while inside."""
    saved = network.conv_forward
    network.conv_forward = lambda s, w, layer, th: layer_from_rows(s, conv.conv_rows(w, layer), th)
    try:
        yield
    finally:
        network.conv_forward = saved


def trainer_for(spec, images, labels, batch):
    """A decision-rule Trainer on a fresh network, one step taken (numba compiles)."""
    cfg = TrainConfig(arch=spec, rule="decision", batch_size=batch, threads=1).resolved()
    trainer = Trainer(Net(parse_arch(spec), cfg, np.random.default_rng(0)), cfg)
    trainer.step(images[:batch], labels[:batch], 1e-3, 0.0)
    return trainer


def train_rate(spec, images, labels, batch, seconds):
    """Training samples/s of Trainer steps (first step left out), at least 3 steps."""
    trainer = trainer_for(spec, images, labels, batch)
    n, t0 = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < seconds:
        lo = (n * batch) % (len(images) - batch)
        trainer.step(images[lo:lo + batch], labels[lo:lo + batch], 1e-3, 0.0)
        n += 1
    return n * batch / (time.perf_counter() - t0)


def profile_text(spec, images, labels, batch, steps) -> str:
    """The top functions by own time over ``steps`` Trainer steps."""
    trainer = trainer_for(spec, images, labels, batch)
    prof = cProfile.Profile()
    prof.enable()
    for n in range(steps):
        lo = (n * batch) % (len(images) - batch)
        trainer.step(images[lo:lo + batch], labels[lo:lo + batch], 1e-3, 0.0)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(10)
    return "\n".join(x for x in out.getvalue().splitlines()[4:] if x.strip())


def golden(args, log, data):
    cfg = TrainConfig(arch=args.golden_spec, epochs=1, train_subset=args.golden_train,
                      val_size=500, threads=1)
    t0 = time.perf_counter()
    ck, _ = train(cfg, args.data_dir, None, progress=False, log=lambda s: None)
    log(f"golden forward of {args.golden_spec}, trained on {args.golden_train} samples "
        f"({time.perf_counter() - t0:.0f} s), theta {list(ck.thetas)}")
    ws, ths = ck.binary_weights, [int(t) for t in ck.thetas]
    images, labels = data.test.images[:args.images], data.test.labels[:args.images]
    run = lambda x: network.forward(x, ws, ths, threads=1, arch=ck.arch)  # noqa: E731
    run(images[:10])
    t0 = time.perf_counter()
    new = run(images)
    t_new = time.perf_counter() - t0
    acc = (new.label == labels).mean()
    log(f"  kernels: {len(images)} images in {t_new:.1f} s, {len(images) / t_new:.0f} images/s "
        f"(strict accuracy {acc:.4f}) [{load_text()}]")
    with dense_golden():
        t0 = time.perf_counter()
        old = run(images[:args.old_images])
        t_old = time.perf_counter() - t0
    same = all(np.array_equal(a, b[:args.old_images]) for a, b in zip(old.spikes, new.spikes))
    same &= np.array_equal(old.v_cross, new.v_cross[:args.old_images])
    log(f"  dense scan: {args.old_images} images in {t_old:.1f} s, "
        f"{args.old_images / t_old:.0f} images/s [{load_text()}]; ratio "
        f"{(len(images) / t_new) / (args.old_images / t_old):.1f}x; results equal: {same}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--specs", nargs="+", default=SPECS)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    ap.add_argument("--golden-spec", default=SPECS[-1])
    ap.add_argument("--golden-train", type=int, default=3000)
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--old-images", type=int, default=1000)
    ap.add_argument("--profile", type=int, default=0, metavar="N")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    log = BenchLog(__file__, argv)
    data = load("mnist", args.data_dir)
    images, labels = data.train.images[:4096], data.train.labels[:4096]
    log(f"training samples/s, decision rule, batch {args.batch}, 1 thread")
    log(f"{'network':<38} {'dense path':>10} {'kernels':>10} {'ratio':>7}")
    for spec in args.specs:
        with dense_path():
            old = train_rate(spec, images, labels, args.batch, args.seconds)
        new = train_rate(spec, images, labels, args.batch, args.seconds)
        log(f"{spec:<38} {old:>10.1f} {new:>10.1f} {new / old:>6.1f}x  [{load_text()}]")
    golden(args, log, data)
    if args.profile:
        spec = args.specs[-1]
        for name, ctx in (("dense path", dense_path()), ("kernels", contextlib.nullcontext())):
            with ctx:
                text = profile_text(spec, images, labels, args.batch, args.profile)
            log(f"profile, {name}, {spec}, {args.profile} steps of {args.batch}:")
            log(text)
    log.save(args.out)


if __name__ == "__main__":
    main()
