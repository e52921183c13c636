"""Cycles per image of BS4NNCore on a test set, from the exact cycle model (hdl/cycle_model.py).

    python benchmarks/core_cycles.py artifacts/authors [--dataset mnist]
        [--config NAME:lanes=150,tree_levels=3 ...] [--sim 20] [--out benchmarks/results/core_cycles.txt]

Spike traces come from the golden model (model/network.py) on the whole test set; events
from contract.events (zero pixels dropped). For each core configuration (BS4NNCore keyword
arguments; by default the core's defaults, the Arty and ULX3S board configurations, the
shortest pipeline and two narrower lane counts): mean, p50, p99 and max cycles in early mode
(stop at the decision, the normal mode) and in full mode (all 256 steps), and images/s at
100 MHz. ``--sim N`` also runs the first N images through the Amaranth simulation of each
configuration and checks that its cycle counts and decisions equal the model's.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contract.artifacts import load_artifacts  # noqa: E402
from contract.events import images_to_events  # noqa: E402
from hdl.core import BS4NNCore, CoreNetwork  # noqa: E402
from hdl.cycle_model import predict_many  # noqa: E402
from hdl.cycles import parse_config, percentiles, standard_configs  # noqa: E402
from model.data import load  # noqa: E402
from model.network import forward  # noqa: E402


def stats(c: np.ndarray) -> str:
    p = percentiles(c)
    return (f"{p['mean']:8.1f} {p['p50']:6.0f} {p['p99']:6.0f} {p['max']:6d} "
            f"{100e6 / p['mean'] / 1e6:8.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifacts")
    ap.add_argument("--dataset", default=None, help="default: the export's dataset")
    ap.add_argument("--data-dir", default=None, help="dataset folder (default $BS4NN_DATA)")
    ap.add_argument("--config", type=parse_config, action="append", metavar="NAME:K=V[,K=V]",
                    help="a core configuration (repeatable); default: a standard set")
    ap.add_argument("--limit", type=int, default=None, help="first N test images only")
    ap.add_argument("--sim", type=int, default=0, help="cross-check N images in the Amaranth sim")
    ap.add_argument("--out")
    ap.add_argument("--per-image", metavar="NPZ",
                    help="also save every image's cycle count per configuration and mode "
                         "(keys CONFIG/early, CONFIG/full), to compare two versions of the core")
    ap.add_argument("--compare", metavar="NPZ",
                    help="a --per-image file of another version: report images whose count differs")
    args = ap.parse_args(argv)

    art = load_artifacts(args.artifacts)
    dataset = args.dataset or art.manifest["source"].get("dataset", "mnist")
    ds = load(dataset, args.data_dir, download=False)
    images = ds.test.images.reshape(len(ds.test), -1)[:args.limit]
    t0 = time.time()
    res = forward(images, art.weights, art.thetas)
    offsets, ev_t, ev_a = images_to_events(images)
    print(f"golden model on {len(images)} images: {time.time() - t0:.0f} s", file=sys.stderr)
    net = CoreNetwork.from_artifacts(art)
    configs = args.config or standard_configs(art)
    lines = ["# " + " ".join(["python", "benchmarks/core_cycles.py"] + (argv or sys.argv[1:])),
             f"# network {'-'.join(map(str, art.widths))}, thetas {list(art.thetas)}, "
             f"{dataset} test set, {len(images)} images; cycle model hdl/cycle_model.py "
             f"(always-valid source, debug 0); Mimg/s at 100 MHz",
             f"# events per image: mean {np.diff(offsets).mean():.1f}, max {np.diff(offsets).max()}"]
    cores = {}
    for name, params in configs:
        core = BS4NNCore(net, **{**params, "debug_port": False})
        cores[name] = core
        lines.append(f"# {name:9s}: {params or 'core defaults'} -> timing {core.timing}")
    lines.append(f"{'config':>9} {'mode':>5} {'mean':>8} {'p50':>6} {'p99':>6} {'max':>6} {'Mimg/s':>8}")
    print("\n".join(lines), flush=True)
    per_image = {}
    for name, _ in configs:
        for full in (False, True):
            c = predict_many(offsets, ev_t, res.spikes, full=full, timing=cores[name].timing)
            per_image[f"{name}/{'full' if full else 'early'}"] = c
            line = f"{name:>9} {'full' if full else 'early':>5} {stats(c)}"
            print(line, flush=True)
            lines.append(line)
    if args.per_image:
        np.savez_compressed(args.per_image, **per_image)
    if args.compare:
        other = np.load(args.compare)
        for key, c in per_image.items():
            if key not in other:
                line = f"# compare: {key} not in {args.compare}"
            else:
                diff = int((other[key] != c).sum())
                line = (f"# compare {key}: {diff} of {len(c)} images differ from {args.compare}"
                        f" (mean {other[key].mean():.2f} there, {c.mean():.2f} here)")
            print(line, flush=True)
            lines.append(line)
    if args.sim:
        from sim.amaranth_run import simulate
        n = args.sim
        evs = list(zip(np.split(ev_t, offsets)[1:n + 1], np.split(ev_a, offsets)[1:n + 1]))
        for name, params in configs:
            if params.get("dsp_neurons"):
                lines.append(f"# {name}: DSP48E1 instances cannot run in the Amaranth simulator; "
                             f"checked with the same timing and dsp_neurons=0")
                params = {**params, "dsp_neurons": 0}
            t0 = time.time()
            core = BS4NNCore(net, **{**params, "debug_port": False})
            got = simulate(core, evs, full=False)
            want = predict_many(offsets[:n + 1], ev_t, [s[:n] for s in res.spikes], full=False,
                                timing=core.timing)
            ok = all(g["cycles"] == w and g["label"] == res.label[k]
                     and g["step"] == res.decision.step[k] for k, (g, w) in enumerate(zip(got, want)))
            line = (f"# amaranth sim, {name}, early mode, first {n} images: cycles and decisions "
                    f"{'EQUAL to' if ok else 'DIFFER from'} the model (sim mean "
                    f"{np.mean([g['cycles'] for g in got]):.1f}, model mean {want.mean():.1f}; "
                    f"{time.time() - t0:.0f} s)")
            print(line, flush=True)
            lines.append(line)
            if not ok:
                return 1
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
