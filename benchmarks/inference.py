"""Golden-model inference speed on a whole test set (target: 10,000 MNIST images < 30 s).

    python benchmarks/inference.py [--ckpt CKPT | --reference NPZ] [--data-dir D] [--repeat 3]

Prints wall time per run and images/s, and the ratio against the project brief's figure for
the authors' notebook's NumPy inference (about 14 s per 1,000 images on this kind of machine).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.checkpoint import load_checkpoint  # noqa: E402
from model.data import load  # noqa: E402
from model.decision import accuracy  # noqa: E402
from model.import_authors import authors_checkpoint  # noqa: E402
from model.network import forward  # noqa: E402

REFERENCE_S_PER_1000 = 14.0


def main(argv=None) -> None:
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", help="checkpoint (default: the authors' reference network)")
    p.add_argument("--reference", default=str(root.parent / "shared/reference/bs4nn_authors_mnist.npz"))
    p.add_argument("--data-dir", default=os.environ.get("BS4NN_DATA"))
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args(argv)
    ck = load_checkpoint(a.ckpt) if a.ckpt else authors_checkpoint(a.reference)
    ds = load(ck.meta.get("dataset", "mnist"), a.data_dir, download=False)
    ws, th = ck.binary_weights, ck.thetas
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}")
    print(f"# network {ck.widths}, theta {th}, dataset {ds.name}, {len(ds.test)} test images")
    times = []
    for i in range(a.repeat):
        t0 = time.perf_counter()
        r = forward(ds.test.images, ws, th)
        times.append(time.perf_counter() - t0)
        print(f"run {i}: {times[-1]:.2f} s  ({len(ds.test) / times[-1]:.0f} images/s)")
    strict, paper = accuracy(r.decision, ds.test.labels)
    best = min(times)
    ref = REFERENCE_S_PER_1000 * len(ds.test) / 1000
    print(f"best {best:.2f} s for {len(ds.test)} images; reference notebook ~{ref:.0f} s -> "
          f"{ref / best:.1f}x; strict {strict:.4f} paper {paper:.4f}")


if __name__ == "__main__":
    main()
