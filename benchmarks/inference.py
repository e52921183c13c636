"""Golden-model inference speed on a whole test set (target: 10,000 MNIST images in <= 1 s
on 2 cores, every spike time computed).

    python benchmarks/inference.py --ckpt CKPT [--ckpt CKPT2] [--threads 2] [--repeat 3] \
        [--profile 2000] [--out benchmarks/results/inference_mnist.txt]

For each checkpoint, in the same process: the golden forward (model.network.forward, the
event/slot formulation, over --threads worker threads) and the baseline, the previous
(B, K, N) cumulative-sum layer kept in tests/naive.py (one thread, as it ran); both on the
whole test set, their outputs compared bit for bit (spike times of every layer, v_cross,
v_final, labels), the ratio printed side by side with the load average (the machine may be
shared). --profile N appends a cProfile of the forward on N images.
"""
from __future__ import annotations

import os

# The forward parallelises over its own threads; a threaded BLAS on top only spins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bench_log import BenchLog, load_text  # noqa: E402
from contract.numerics import encode_latency  # noqa: E402
from model.checkpoint import load_checkpoint  # noqa: E402
from model.data import load  # noqa: E402
from model.decision import accuracy, decide  # noqa: E402
from model.network import forward  # noqa: E402
from tests.naive import old_forward_times  # noqa: E402



def best_of(fn, repeat: int):
    """(best wall time, wall times, CPU seconds of that best run, output)."""
    runs, out = [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    best = min(runs)
    return best[0], [r[0] for r in runs], best[1], out


def bench(path: str, ds, threads: int, repeat: int, log) -> None:
    ck = load_checkpoint(path)
    ws, th = ck.binary_weights, ck.thetas
    x, n = ds.test.images, len(ds.test)
    log(f"## {path}: network {ck.widths}, theta {th}, {ds.name} test set ({n} images), "
        f"{load_text()}")
    for k in sorted({1, threads}):
        t_new, runs, cpu, r = best_of(lambda: forward(x, ws, th, threads=k), repeat)
        log(f"event/slot forward, {k} thread{'s' if k > 1 else ''}: runs "
            + ", ".join(f"{t:.3f}" for t in runs) + f" s -> best {t_new:.3f} s, "
            f"{n / t_new:,.0f} images/s, {n / cpu:,.0f} images per CPU-s   ({load_text()})")
    t_old, _, cpu, (spikes, vc, vf) = best_of(
        lambda: old_forward_times(encode_latency(x), ws, th), 1)
    log(f"baseline (previous scan, tests/naive.py), 1 thread: {t_old:.3f} s, "
        f"{n / t_old:,.0f} images/s, {n / cpu:,.0f} images per CPU-s   ({load_text()})")
    same = (all(np.array_equal(a, b) for a, b in zip(r.spikes, spikes))
            and np.array_equal(r.v_cross, vc) and np.array_equal(r.v_final, vf)
            and np.array_equal(r.label, decide(spikes[-1], vc, vf).label))
    strict, paper = accuracy(r.decision, ds.test.labels)
    log(f"speed-up {t_old / t_new:.1f}x ({threads} threads against the baseline); outputs bit-identical to the baseline: {same}; "
        f"strict {strict:.4f} paper {paper:.4f} ties {int(r.decision.tie.sum())} "
        f"no-spike {int(r.decision.no_spike.sum())}")
    if not same:
        raise SystemExit("the forward differs from the baseline")


def profile(path: str, ds, n: int, threads: int, log) -> None:
    ck = load_checkpoint(path)
    pr = cProfile.Profile()
    pr.enable()
    forward(ds.test.images[:n], ck.binary_weights, ck.thetas, threads=threads)
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(12)
    log(f"## cProfile, forward of {n} images of {path}, {threads} thread(s), by tottime")
    log("\n".join(line for line in s.getvalue().splitlines() if line.strip()))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", action="append", required=True, help="checkpoint(s) to run")
    p.add_argument("--data-dir", default=os.environ.get("BS4NN_DATA"))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--profile", type=int, default=0, help="cProfile the forward on N images")
    p.add_argument("--out", default=None, help="also write the output here, command on top")
    a = p.parse_args(argv)
    log = BenchLog(__file__, argv)
    log(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}, {platform.machine()}, {os.cpu_count()} CPUs "
        f"(shared machine), numpy {np.__version__}, {load_text()}")
    for path in a.ckpt:
        ck = load_checkpoint(path)
        ds = load(ck.meta.get("dataset", "mnist"), a.data_dir, download=False)
        bench(path, ds, a.threads, a.repeat, log)
        if a.profile:
            profile(path, ds, a.profile, 1, log)
    log.save(a.out)


if __name__ == "__main__":
    main()
