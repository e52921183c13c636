"""Export a checkpoint as a NIR graph (docs/nir.md), with golden spike times beside it.

    python -m export.nir runs/authors.npz --out runs/authors.nir
    python -m export.nir runs/authors.npz --out runs/authors.nir --golden 0

Writes NET.nir (``nir.write``: Linear / Conv2d of +-1 weights, IF neurons, SumPool2d + IF
for pooling; model/nir_graph.py) and, unless ``--golden 0``, the sidecar NET.golden.h5
(``nir.write_data``: NIR event data of the first N test images: the input events and every
IF node's spike times, as the golden model computes them; docs/nir.md, "Golden data").
``python -m model.import_nir NET.nir`` maps the graph back exactly. Needs the ``nir``
extra (``pip install -e '.[nir]'``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from contract.cli import Parser, command
from contract.errors import UsageError
from contract.events import images_to_events
from contract.files import atomic_path, check_output_file
from contract.network import validate_network
from contract.numerics import SILENT, T
from export.golden import run_golden
from model.checkpoint import load_checkpoint
from model.data import check_data_dir, load as load_dataset
from model.nir_graph import checkpoint_to_graph, node_names, require_nir

OBSERVABLE = "spikes"            # the observable name of every node's golden events


def golden_path(out: Path) -> Path:
    """The sidecar of ``NET.nir``: ``NET.golden.h5``."""
    return out.with_name(out.stem + ".golden.h5")


def event_data(nir, times: np.ndarray):
    """(N, n) spike times (SILENT: none) -> nir.EventData, events sorted by (time, index),
    padded with index -1 and time inf."""
    n_img, n = times.shape
    fired = times < SILENT
    width = max(int(fired.sum(axis=1).max()), 1)
    idx = np.full((n_img, width), -1, np.int64)
    tim = np.full((n_img, width), np.inf)
    for i in range(n_img):
        sel = np.flatnonzero(fired[i])
        order = np.lexsort((sel, times[i, sel]))
        idx[i, :len(sel)], tim[i, :len(sel)] = sel[order], times[i, sel][order]
    return nir.EventData(idx=idx, time=tim, n_neurons=n, t_max=float(T))


def input_times(images: np.ndarray) -> np.ndarray:
    """(N, 784) input spike times as the hardware receives them (contract.events): pixels
    of intensity 0 (time 255) are left out, an all-zero image is the one event (255, 0)."""
    offsets, t, a = images_to_events(images)
    s = np.full(images.shape, SILENT, np.int16)
    for i in range(len(images)):
        lo, hi = offsets[i], offsets[i + 1]
        s[i, a[lo:hi]] = t[lo:hi]
    return s


def golden_data(nir, ck, images: np.ndarray):
    """nir.NIRGraphData: ``input``, every IF node and ``output``, observable ``spikes``."""
    arch = ck.conv_arch
    g = run_golden(images, ck.binary_weights, ck.thetas, arch=arch)
    nodes = {"input": input_times(images)}
    for l, names in enumerate(node_names(ck.arch)):
        nodes[names[-1]] = g[f"spikes_{l}"]
    nodes["output"] = g[f"spikes_{len(ck.arch) - 1}"]
    return nir.NIRGraphData(nodes={k: nir.NIRNodeData(observables={OBSERVABLE: event_data(
        nir, np.asarray(v, np.int64))}) for k, v in nodes.items()})


@command
def main(argv=None) -> int:
    p = Parser(prog="python -m export.nir", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path,
                   help="checkpoint .npz (model/checkpoint.py format, full or packed)")
    p.add_argument("--out", type=Path, required=True, help="NIR file to write (NET.nir)")
    p.add_argument("--golden", type=int, default=100, metavar="N",
                   help="golden spike times of the first N test images in NET.golden.h5 "
                        "(0: none; default %(default)s)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $BS4NN_DATA, ...)")
    p.add_argument("--dataset", default=None, help="override the checkpoint's meta['dataset']")
    p.add_argument("--force", action="store_true",
                   help="replace NET.nir (and NET.golden.h5) when they exist")
    a = p.parse_args(argv)
    if a.golden < 0:
        raise UsageError(f"--golden {a.golden}: expected a count >= 0")
    check_output_file(a.out, "--out", keep_existing=not a.force)
    if a.golden:
        check_output_file(golden_path(a.out), "--out (golden sidecar)", keep_existing=not a.force)
        check_data_dir(a.data_dir)
    nir = require_nir()
    ck = load_checkpoint(a.checkpoint)
    validate_network(ck.widths, ck.thetas, ck.meta.get("mode", "binary"), ck.meta.get("kinds"),
                     where=f"{a.checkpoint}: NIR export", layers=ck.meta.get("layers"))
    graph = checkpoint_to_graph(ck)
    data = None
    if a.golden:
        name = a.dataset or ck.meta.get("dataset")
        if not name:
            raise UsageError(f"{a.checkpoint}: checkpoint metadata has no 'dataset'; pass "
                             "--dataset or --golden 0")
        test = load_dataset(name, a.data_dir, val_size=0).test
        if a.golden > len(test):
            raise UsageError(f"--golden {a.golden}: the {name} test set has {len(test)} images")
        data = golden_data(nir, ck, test.images[:a.golden])
        with atomic_path(golden_path(a.out), suffix=".h5") as tmp:
            nir.write_data(tmp, data)
    with atomic_path(a.out, suffix=".nir") as tmp:
        nir.write(tmp, graph)
    print(f"wrote {a.out} ({len(graph.nodes)} nodes, widths {ck.widths}, theta {ck.thetas})"
          + (f" and {golden_path(a.out)} ({a.golden} images)" if data else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
