"""Cycles per image of BS4NNCore on a test set, from the exact cycle model (hdl/cycle_model.py).

    python benchmarks/core_cycles.py artifacts/authors [--dataset mnist] [--lanes 600 --lanes 150 ...]
        [--tree-inputs 0 --tree-inputs 150 ...]
        [--sim 3] [--out benchmarks/results/core_cycles.txt]

Spike traces come from the golden model (model/network.py) on the whole test set; events
from export.events (zero pixels dropped). For each lane count: mean, p50, p99 and max cycles
in early mode (stop at the decision, the normal mode) and in full mode (all 256 steps),
and images/s at 100 MHz. ``--sim N`` also runs the first N images through the Amaranth
simulation of the core and checks that its cycle counts and decisions equal the model's.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from export.artifacts import load_artifacts  # noqa: E402
from export.events import images_to_events  # noqa: E402
from hdl.cycle_model import predict_many  # noqa: E402
from model.data import load  # noqa: E402
from model.network import forward  # noqa: E402


def stats(c: np.ndarray) -> str:
    return (f"{c.mean():8.1f} {np.percentile(c, 50):6.0f} {np.percentile(c, 99):6.0f} "
            f"{c.max():6d} {100e6 / c.mean() / 1e6:8.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifacts")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--lanes", type=int, action="append", help="repeat (default: full parallelism)")
    ap.add_argument("--tree-inputs", type=int, action="append",
                    help="repeat; 0 = whole vectors (default: 0 only)")
    ap.add_argument("--limit", type=int, default=None, help="first N test images only")
    ap.add_argument("--sim", type=int, default=0, help="cross-check N images in the Amaranth sim")
    ap.add_argument("--out")
    args = ap.parse_args(argv)

    art = load_artifacts(args.artifacts)
    ds = load(args.dataset, args.data_dir, download=False)
    images = ds.test.images.reshape(len(ds.test), -1)[:args.limit]
    t0 = time.time()
    res = forward(images, art.weights, art.thetas)
    offsets, ev_t, ev_a = images_to_events(images)
    print(f"golden model on {len(images)} images: {time.time() - t0:.0f} s", file=sys.stderr)
    n1 = art.widths[1]
    lanes_list = args.lanes or [n1]
    lines = ["# " + " ".join(["python", "benchmarks/core_cycles.py"] + (argv or sys.argv[1:])),
             f"# network {'-'.join(map(str, art.widths))}, thetas {list(art.thetas)}, "
             f"{args.dataset} test set, {len(images)} images; cycle model hdl/cycle_model.py "
             f"(always-valid source, debug 0); Mimg/s at 100 MHz",
             f"# events per image: mean {np.diff(offsets).mean():.1f}, max {np.diff(offsets).max()}",
             f"{'lanes':>6} {'tree':>5} {'mode':>5} {'mean':>8} {'p50':>6} {'p99':>6} {'max':>6} {'Mimg/s':>8}"]
    print("\n".join(lines), flush=True)
    trees = [t or None for t in (args.tree_inputs or [0])]
    configs = [(la, tr) for la in lanes_list for tr in trees]
    for lanes, tree in configs:
        for full in (False, True):
            c = predict_many(offsets, ev_t, res.spikes, full=full, lanes=lanes, tree_inputs=tree)
            line = f"{lanes:>6} {tree or 'all':>5} {'full' if full else 'early':>5} {stats(c)}"
            print(line, flush=True)
            lines.append(line)
    if args.sim:
        from hdl.core import BS4NNCore, CoreNetwork
        from hdl.core_sim import simulate
        net = CoreNetwork.from_artifacts(art)
        n = args.sim
        evs = [(ev_t[offsets[k]:offsets[k + 1]], ev_a[offsets[k]:offsets[k + 1]]) for k in range(n)]
        for lanes, tree in configs:
            t0 = time.time()
            core = BS4NNCore(net, lanes=lanes, tree_inputs=tree, debug_port=False)
            got = simulate(core, evs, full=False)
            want = predict_many(offsets[:n + 1], ev_t, [s[:n] for s in res.spikes], full=False,
                                lanes=lanes, tree_inputs=tree)
            ok = all(g["cycles"] == w and g["label"] == res.label[k]
                     and g["step"] == res.decision.step[k] for k, (g, w) in enumerate(zip(got, want)))
            line = (f"# amaranth sim, lanes {lanes}, tree_inputs {tree}, early mode, first {n} "
                    f"images: cycles and decisions {'EQUAL to' if ok else 'DIFFER from'} the "
                    f"model (sim mean {np.mean([g['cycles'] for g in got]):.1f}, model mean "
                    f"{want.mean():.1f}; {time.time() - t0:.0f} s)")
            print(line, flush=True)
            lines.append(line)
            if not ok:
                return 1
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
