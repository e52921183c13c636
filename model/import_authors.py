"""Wrap the BS4NN authors' published weights (``shared/reference``) as a project checkpoint.

    python -m model.import_authors ../shared/reference/bs4nn_authors_mnist.npz --out runs/authors.npz

The authors' file holds only the weights' signs, so the latent weights are +-1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from contract.cli import Parser, command
from contract.files import check_output_file, sha256_file
from contract.network import NetworkError, validate_network

from .checkpoint import Checkpoint, CheckpointError, read_npz
from .network import check_network

KEYS = ("w0", "w1", "fact", "thr", "theta")


def authors_checkpoint(path: str | Path) -> Checkpoint:
    """The checkpoint of the authors' weights file ``path`` (keys w0, w1, fact, thr, theta)."""
    path = Path(path)
    z = read_npz(path, "weights file", "weights file")
    missing = set(KEYS) - set(z)
    if missing:
        raise CheckpointError(f"{path}: missing keys {sorted(missing)}")
    ws = [z["w0"], z["w1"]]
    fact, thr, theta = z["fact"], z["thr"], [int(t) for t in np.ravel(z["theta"])]
    try:
        ws = check_network(ws, theta)
        validate_network([ws[0].shape[1]] + [w.shape[0] for w in ws], theta, where=str(path))
    except (NetworkError, ValueError) as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    if np.shape(fact) != (len(ws),) or np.shape(thr) != (len(ws),):
        raise CheckpointError(f"{path}: 'fact' and 'thr' must hold {len(ws)} values each")
    meta = {"mode": "binary", "thr": [float(t) for t in thr], "theta": theta,
            "dataset": "mnist", "source": {"reference": str(path), "sha256": sha256_file(path)},
            "config": {"origin": "BS4NN authors' trained weights (GitHub SRKH/BS4NN)"}}
    return Checkpoint([w.astype(np.float32) for w in ws], np.asarray(fact, np.float64), meta)


@command
def main(argv=None) -> int:
    p = Parser(prog="python -m model.import_authors", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", help="the authors' weights, bs4nn_authors_mnist.npz")
    p.add_argument("--out", default="runs/authors.npz", help="checkpoint to write (default: %(default)s)")
    a = p.parse_args(argv)
    check_output_file(a.out, "--out")
    ck = authors_checkpoint(a.weights)
    sha = ck.save(a.out)
    print(f"wrote {a.out} (widths {ck.widths}, theta {ck.thetas}, sha256 {sha[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
