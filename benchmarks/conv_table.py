"""Accuracy versus size of trained networks (conv and dense), one row per checkpoint.

    python benchmarks/conv_table.py CKPT [CKPT ...] --data-dir ../shared/data \
        --out benchmarks/results/conv_table.txt

For each checkpoint, on the test split of its dataset with the golden model
(model.evaluate.evaluate_checkpoint): strict and paper accuracy, ties, no-spike images,
the weight bits (one per +-1 weight), the neurons of every layer (pooling layers included),
the mean spikes per image of the weight layers (a pooled spike is not counted again), the mean decision step (255 for an image decided
by the no-spike fallback) and the share of the Arty A7-35T's block RAM (50 BRAM36 =
1,843,200 bits) the weights alone would fill. Training time and epochs come from the
checkpoint's metadata. A real-valued checkpoint has no weight bits (its weights are floats).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bench_log import BenchLog, load_text  # noqa: E402
from model.checkpoint import load_checkpoint  # noqa: E402
from model.evaluate import evaluate_checkpoint  # noqa: E402

ARTY_BRAM_BITS = 50 * 36 * 1024


def row(path: str, data_dir) -> dict:
    """The table's figures for one checkpoint."""
    ck = load_checkpoint(path)
    r = evaluate_checkpoint(path, data_dir)
    bits = int(sum(np.asarray(w).size for w in ck.binary_weights))
    neurons = [int(np.prod(x.out_shape)) for x in ck.arch]
    return {**r, "weight_bits": bits if r["mode"] == "binary" else 0, "neurons": neurons,
            "spikes": round(float(sum(m for m, x in zip(r["mean_spikes"], ck.arch)
                                      if x.kind != "pool")), 1),
            "epochs": ck.meta.get("selected_epoch", "?"),
            "minutes": round(float(ck.meta.get("train_seconds", 0.0)) / 60, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+", metavar="CKPT")
    p.add_argument("--data-dir", default=None, help="folder with the IDX .gz files (or env "
                   "BS4NN_DATA)")
    p.add_argument("--out", default=None, help="also write the table to this file")
    a = p.parse_args(argv)
    log = BenchLog(__file__, argv)
    log(f"[{load_text()}]")
    log(f"{'checkpoint':34s} {'dataset':13s} {'mode':6s} {'strict':>7s} {'paper':>7s} "
        f"{'ties':>5s} {'nospk':>5s} {'wbits':>8s} {'%BRAM':>6s} {'spikes':>7s} "
        f"{'step':>6s} {'epoch':>5s} {'min':>5s}  architecture / neurons per layer")
    for path in a.checkpoints:
        r = row(path, a.data_dir)
        log(f"{Path(path).name:34s} {r['dataset']:13s} {r['mode']:6s} {r['strict']:7.4f} "
            f"{r['paper']:7.4f} {r['ties']:5d} {r['no_spike']:5d} {r['weight_bits']:8d} "
            f"{100 * r['weight_bits'] / ARTY_BRAM_BITS:6.1f} {r['spikes']:7.1f} "
            f"{r['mean_step']:6.1f} {r['epochs']!s:>5s} {r['minutes']:5.1f}  "
            f"{r['arch']} theta {r['theta']} / {r['neurons']}")
    log.save(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
