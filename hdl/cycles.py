"""Cycle statistics of an artifact directory, from the exact cycle model (no simulation).

    python -m hdl.cycles ARTIFACT_DIR [--images N] [--stress] [--config NAME:K=V,...]
        [--mhz F] [--json]

For every core parameter set (by default: the core's defaults, the Arty and ULX3S board
configurations, the shortest pipeline, the first layer at 1/2 and 1/4 of its lanes and two
input events per cycle; ``--config`` replaces that list) and both modes (early: stop at the decision, the normal
mode; full: all 256 steps), the cycles per image of the golden test vectors
(hdl/cycle_model.py on the spike times the export stored, so it reads nothing but the
artifact directory): mean, p50, p99 and max, the time per image and for the whole set at
``--mhz``, and images per second. The network's own figures (share of images decided by the
no-spike fallback, mean decision step, input events per image) head the table.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys

import numpy as np

from contract.artifacts import load_artifacts
from contract.cli import Parser, command
from contract.errors import UsageError
from .boards import BOARDS, board_core_params
from .conv_core import is_conv, make_core
from .conv_network import ConvNetwork
from .core import CoreNetwork
from .cycle_model import predict_many

MODES = ("early", "full")


def standard_configs(art) -> list[tuple[str, dict]]:
    """(name, BS4NNCore keyword arguments) of the configurations worth comparing (for a
    conv network the lanes are those of its widest conv layer)."""
    n1 = int(art.widths[1])
    if is_conv(art):
        n1 = max(lay["out_shape"][0] for lay in art.layers if lay["kind"] == "conv")
    beats = [] if is_conv(art) else [("events/2", {"events_per_cycle": 2})]
    return [("default", {}),
            ("arty", board_core_params(BOARDS["arty"], art, {})),
            ("ulx3s", board_core_params(BOARDS["ulx3s"], art, {})),
            ("shortest", {"tree_levels": None, "rom_reg": False}),
            ("lanes/2", {"lanes": -(-n1 // 2)}),
            ("lanes/4", {"lanes": -(-n1 // 4)})] + beats


def parse_config(text: str) -> tuple[str, dict]:
    """'NAME:lanes=150,tree_levels=3' -> (name, keyword arguments); without 'NAME:'
    the text names itself."""
    name, sep, body = text.rpartition(":")
    name = name if sep else body
    out = {}
    for item in filter(None, body.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise argparse.ArgumentTypeError(f"{item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise argparse.ArgumentTypeError(f"{item!r}: {value!r} is not a Python literal") from None
    return name, out


def percentiles(cycles: np.ndarray) -> dict:
    """mean, p50, p99 and max of per-image cycle counts."""
    return {"mean": float(cycles.mean()), "p50": float(np.percentile(cycles, 50)),
            "p99": float(np.percentile(cycles, 99)), "max": int(cycles.max())}


def golden_set(art, n: int | None, stress: bool) -> dict:
    """Events, spike times, decision steps and no-spike flags of the first ``n`` test
    vectors (all: None), followed by the stress vectors when ``stress``."""
    sets = [(art.vectors, n)] + ([(art.stress, None)] if stress else [])
    offsets, times, addrs, spikes, steps, silent = [np.zeros(1, np.int64)], [], [], [], [], []
    for v, m in sets:
        m = len(v["labels"]) if m is None else min(m, len(v["labels"]))
        off = np.asarray(v["ev_offsets"][:m + 1], np.int64)
        offsets.append(offsets[-1][-1] + off[1:] - off[0])
        times.append(v["ev_time"][off[0]:off[-1]])
        addrs.append(v["ev_addr"][off[0]:off[-1]])
        spikes.append([v[f"spikes_{l}"][:m] for l in range(len(art.weights))])
        steps.append(v["step"][:m])
        silent.append(v["no_spike"][:m])
    return {"offsets": np.concatenate(offsets), "ev_time": np.concatenate(times),
            "ev_addr": np.concatenate(addrs),
            "spikes": [np.concatenate(s) for s in zip(*spikes)],
            "step": np.concatenate(steps), "no_spike": np.concatenate(silent)}


def cycle_table(art, configs, images: int | None = None, stress: bool = False,
                mhz: float = 100.0) -> dict:
    """Per configuration and mode, the cycle statistics and times; plus the network's figures."""
    g = golden_set(art, images, stress)
    n = len(g["step"])
    net = ConvNetwork.from_artifacts(art) if is_conv(art) else CoreNetwork.from_artifacts(art)
    rows = []
    for name, params in configs:
        try:
            timing = make_core(net, **{**params, "debug_port": False}).timing
        except TypeError as exc:
            raise UsageError(f"--config {name}: {exc}") from None
        for mode in MODES:
            c = predict_many(g["offsets"], g["ev_time"], g["spikes"], full=mode == "full",
                             timing=timing, ev_addrs=g["ev_addr"])
            st = percentiles(c)
            rows.append({"config": name, "params": params, "timing": timing, "mode": mode,
                         **st, "us_per_image": st["mean"] / mhz,
                         "images_per_s": mhz * 1e6 / st["mean"],
                         "set_s": float(c.sum()) / (mhz * 1e6)})
    events = np.diff(g["offsets"])
    return {"artifacts": str(art.path), "widths": art.widths, "thetas": art.thetas,
            "images": n, "stress": stress, "mhz": mhz,
            "no_spike_share": float(np.mean(g["no_spike"])),
            "mean_decision_step": float(np.mean(g["step"])),
            "mean_events": float(events.mean()), "max_events": int(events.max()), "rows": rows}


def format_table(t: dict) -> str:
    w = max([9] + [len(r["config"]) for r in t["rows"]])
    head = [f"network {'-'.join(map(str, t['widths']))}, thetas {t['thetas']}: {t['images']} "
            f"golden images{' (with the stress vectors)' if t['stress'] else ''} of {t['artifacts']}",
            f"input events per image: mean {t['mean_events']:.1f}, max {t['max_events']}; "
            f"decided by the no-spike fallback: {100 * t['no_spike_share']:.1f}%; "
            f"mean decision step {t['mean_decision_step']:.1f}",
            f"times at {t['mhz']:g} MHz (cycle model hdl/cycle_model.py: always-valid source, "
            f"always-ready sink, debug off)",
            f"{'config':>{w}} {'mode':>5} {'mean':>8} {'p50':>6} {'p99':>6} {'max':>6} "
            f"{'us/img':>8} {'img/s':>10} {'set s':>8}"]
    body = [f"{r['config']:>{w}} {r['mode']:>5} {r['mean']:8.1f} {r['p50']:6.0f} {r['p99']:6.0f} "
            f"{r['max']:6d} {r['us_per_image']:8.3f} {r['images_per_s']:10.0f} {r['set_s']:8.4f}"
            for r in t["rows"]]
    names = {r["config"]: r["params"] for r in t["rows"]}
    tail = [f"{name}: {params or 'core defaults'}" for name, params in names.items()]
    return "\n".join(head + body + tail)


@command
def main(argv=None) -> int:
    ap = Parser(prog="python -m hdl.cycles", description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifacts", help="artifact directory (docs/artifacts.md)")
    ap.add_argument("--images", type=int, default=None, metavar="N",
                    help="first N golden test vectors (default: all)")
    ap.add_argument("--stress", action="store_true", help="add the stress vectors")
    ap.add_argument("--config", type=parse_config, action="append", metavar="NAME:K=V[,K=V]",
                    help="a core configuration as BS4NNCore keyword arguments, e.g. "
                         "'half:lanes=300' (repeatable; default: a standard set)")
    ap.add_argument("--mhz", type=float, default=100.0, help="clock for the times (default 100)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    if args.images is not None and args.images < 1:
        raise UsageError(f"--images {args.images}: expected an integer >= 1")
    if not np.isfinite(args.mhz) or args.mhz <= 0:
        raise UsageError(f"--mhz {args.mhz}: expected a clock > 0")
    art = load_artifacts(args.artifacts)
    table = cycle_table(art, args.config or standard_configs(art), args.images, args.stress,
                        args.mhz)
    print(json.dumps(table, indent=1) if args.json else format_table(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
