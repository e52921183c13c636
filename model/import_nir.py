"""Import a NIR graph (docs/nir.md) as a project checkpoint.

    python -m model.import_nir runs/authors.nir --out runs/authors_from_nir.npz

The graph's layers, +-1 weights and IF thresholds become the checkpoint's (model/nir_parse.py
says what is accepted; anything else is refused by the node's name). A file written by
``python -m export.nir`` also carries the checkpoint's metadata and ``fact``, which are
restored, so checkpoint -> NIR -> checkpoint gives the same binary weights, thresholds,
architecture and metadata. Weights other than +-1 are binarized (w >= 0 -> +1) with a
warning on stderr. Needs the ``nir`` extra (``pip install -e '.[nir]'``).
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from contract.cli import Parser, command
from contract.files import check_output_file, sha256_file
from contract.network import NetworkError, layer_widths, validate_network

from .arch import from_dicts, is_dense, spec_of
from .checkpoint import Checkpoint, theta_from_fact
from .nir_graph import META_KEY, require_nir
from .nir_parse import NirError, parse_graph

# metadata keys that the graph decides (or Checkpoint.save writes), not the stored record
FROM_GRAPH = ("format", "widths", "encoding", "layers", "arch", "theta", "mode", "kinds")


def read_graph(path: Path):
    """``nir.read`` of ``path``; a missing or unreadable file raises NirError."""
    nir = require_nir()
    if not path.is_file():
        raise NirError(f"{path}: no such NIR file")
    try:
        return nir.read(path)
    except (OSError, KeyError, ValueError, TypeError, AssertionError) as exc:
        why = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise NirError(f"{path}: not a readable NIR graph ({why})") from exc


def stored_record(graph) -> tuple[dict, list[float] | None]:
    """The checkpoint metadata and fact that ``export.nir`` stored in the graph, if any."""
    text = (graph.metadata or {}).get(META_KEY)
    try:
        record = json.loads(text) if isinstance(text, str) else {}
    except json.JSONDecodeError:
        record = {}
    meta = record.get("meta") if isinstance(record, dict) else None
    return (meta if isinstance(meta, dict) else {}), record.get("fact") if meta else None


def graph_checkpoint(graph, where: str = "NIR graph", dataset: str = "mnist") -> Checkpoint:
    """The checkpoint of a NIR graph (NirError naming a node the project cannot map)."""
    try:
        p = parse_graph(graph)
    except NirError as exc:
        raise NirError(f"{where}: {exc}") from exc
    arch_dense = all(x["kind"] == "dense" for x in p.layers)
    try:
        validate_network(layer_widths(p.layers), p.thetas, where=where,
                         layers=None if arch_dense else p.layers)
        arch = from_dicts(p.layers, layer_widths(p.layers)[0], where)
    except NetworkError as exc:
        raise NirError(str(exc)) from exc
    stored, fact = stored_record(graph)
    meta = {k: v for k, v in stored.items() if k not in FROM_GRAPH}
    meta.setdefault("dataset", dataset)
    meta.update(mode="binary", theta=p.thetas)
    if not is_dense(arch):
        meta.update(layers=[dict(d, in_shape=list(d["in_shape"]),
                                 out_shape=list(d["out_shape"])) for d in p.layers],
                    arch=spec_of(arch))
    thr = meta.get("thr")
    n = len(p.thetas)
    if not (isinstance(fact, list) and isinstance(thr, list) and len(fact) == len(thr) == n
            and all(theta_from_fact(a, b) == t for a, b, t in zip(thr, fact, p.thetas))):
        meta["thr"], fact = [t - 0.5 for t in p.thetas], [1.0] * n
    return Checkpoint(p.weights, np.asarray(fact, np.float64), meta)


@command
def main(argv=None) -> int:
    p = Parser(prog="python -m model.import_nir", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("graph", type=Path, help="NIR file (HDF5, as nir.write writes it)")
    p.add_argument("--out", required=True, help="checkpoint to write")
    p.add_argument("--dataset", default="mnist",
                   help="meta['dataset'] when the graph does not carry one (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="replace --out when it exists")
    a = p.parse_args(argv)
    check_output_file(a.out, "--out", keep_existing=not a.force)
    graph = read_graph(a.graph)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ck = graph_checkpoint(graph, str(a.graph), a.dataset)
    for w in caught:
        print(f"warning: {a.graph}: {w.message}", file=sys.stderr)
    ck.meta["nir_source"] = {"file": a.graph.name, "sha256": sha256_file(a.graph)}
    sha = ck.save(a.out)
    print(f"wrote {a.out} (widths {ck.widths}, theta {ck.thetas}, sha256 {sha[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
