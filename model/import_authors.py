"""Wrap the BS4NN authors' published weights (``shared/reference``) as a project checkpoint.

    python -m model.import_authors ../shared/reference/bs4nn_authors_mnist.npz --out runs/authors.npz

The authors' file holds only the weights' signs, so the latent weights are +-1.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from contract.files import sha256_file

from .checkpoint import Checkpoint
from .network import check_network


def authors_checkpoint(path: str | Path) -> Checkpoint:
    """The checkpoint of the authors' weights file ``path`` (keys w0, w1, fact, thr, theta)."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as z:
        missing = {"w0", "w1", "fact", "thr", "theta"} - set(z.files)
        if missing:
            raise ValueError(f"{path}: missing keys {sorted(missing)}")
        ws = [z["w0"], z["w1"]]
        fact, thr, theta = z["fact"], z["thr"], [int(t) for t in z["theta"]]
    ws = check_network(ws, theta)
    meta = {"mode": "binary", "thr": [float(t) for t in thr], "theta": theta,
            "dataset": "mnist", "source": {"reference": str(path), "sha256": sha256_file(path)},
            "config": {"origin": "BS4NN authors' trained weights (GitHub SRKH/BS4NN)"}}
    return Checkpoint([w.astype(np.float32) for w in ws], np.asarray(fact, np.float64), meta)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m model.import_authors", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", help="the authors' weights, bs4nn_authors_mnist.npz")
    p.add_argument("--out", default="runs/authors.npz", help="checkpoint to write (default: %(default)s)")
    a = p.parse_args(argv)
    ck = authors_checkpoint(a.weights)
    sha = ck.save(a.out)
    print(f"wrote {a.out} (widths {ck.widths}, theta {ck.thetas}, sha256 {sha[:12]})")


if __name__ == "__main__":
    main()
