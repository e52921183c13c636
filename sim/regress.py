"""Regression: run golden vectors through the generated core in a cocotb bench.

    python -m sim.regress artifacts/authors --simulator verilator
    python -m sim.regress artifacts/authors --simulator icarus --images 300 --mode full
    python -m sim.regress DIR --jobs 2                              # two simulator processes
    python -m sim.regress DIR --shard 0/2 --json part0.json       # and 1/2 elsewhere
    python -m sim.regress DIR --scheduler tcp://HOST:8786         # on a Dask cluster
    python -m sim.regress DIR --images 20 --raster 7 --plots plots/
    python -m sim.regress DIR --images 200 --html runs/regress.html

Every image runs a "fast" pass (debug 0, source always valid, sinks always ready: the
decision, `times` and the cycle count, the latter checked against hdl/cycle_model.py) and a
"debug" pass (debug 1: every spike on o_spike is checked too); every --random-every'th
image's debug pass has random idle cycles on i_event and random back-pressure on o_result
and o_spike. In early mode spike times are compared up to the decision (times > step + 1 are
256 in `times`; debug spikes with time <= step + 1 must all be there), in full mode all of
them. Exit status 1 on any mismatch. A raster (model beside hardware) is drawn for every
mismatching image (up to 10) and for each --raster image.

--jobs N splits the images into N shards (shard i seeded with --seed + i) run at once: as N
simulator processes here, or with --scheduler as N tasks on the workers of a Dask cluster
(docs/cluster.md; default N: the cluster's worker threads). The report depends on N only,
not on where the shards ran.

``--html`` writes one self-contained report (sim/html_report.py): summary table, cycle
histogram, the mismatches with their rasters, and the rasters of the first 3 test images.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from contract.artifacts import load_artifacts
from contract.cli import Parser, command
from contract.errors import UsageError
from contract.files import atomic_path, check_output_file
from hdl.core_options import add_core_arguments, core_cli_args, core_kwargs
from sim.shards import CONNECT_TIMEOUT_S, connect
from sim.raster import draw_rasters


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: expected i/n, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise argparse.ArgumentTypeError(f"--shard {text!r}: need 0 <= i < n")
    return i, n


def select_images(art, n_images: int | None, stress: bool, shard: tuple[int, int]):
    n_vec = int(art.manifest["vectors"]["vectors"]["count"])
    n = n_vec if n_images is None else min(n_images, n_vec)
    images = [("vectors", k) for k in range(n)]
    if stress:      # first, so that a run stopped by --max-wall has them
        images = [("stress", k) for k in range(int(art.manifest["vectors"]["stress"]["count"]))] + images
    i, m = shard
    return images[i::m]


def _stats(x) -> dict:
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return {}
    return {"mean": float(x.mean()), "p50": float(np.percentile(x, 50)),
            "p99": float(np.percentile(x, 99)), "max": int(x.max())}


def summarise(report: dict, art, mode: str) -> dict:
    recs = report["records"]
    vec = art.vectors
    vr = [r for r in recs if r["set"] == "vectors"]
    idx = np.array([r["index"] for r in vr], dtype=np.int64)
    labels = vec["labels"][idx].astype(np.int64) if len(idx) else np.zeros(0, np.int64)
    hw = np.array([r.get("label", -1) for r in vr], dtype=np.int64)
    model = vec["label"][idx].astype(np.int64) if len(idx) else np.zeros(0, np.int64)
    cyc_key = "cycles_fast" if any("cycles_fast" in r for r in recs) else "cycles_debug"
    cycles = [r[cyc_key] for r in vr if cyc_key in r]
    pred = [(r["cycles_fast"], r["cycles_predicted"]) for r in recs if "cycles_predicted" in r]
    wall = float(report["wall_s"])
    return {
        "mode": mode,
        "images": len(recs), "vector_images": len(vr),
        "stress_images": sum(r["set"] == "stress" for r in recs),
        "mismatches": sum(not r["ok"] for r in recs),
        "cycle_differences": sum(not r.get("cycles_ok", True) for r in recs),
        "randomised_images": sum(bool(r.get("randomised")) for r in recs),
        "debug_pass_images": sum("n_spikes" in r for r in recs),
        "hw_strict_accuracy": float((hw == labels).mean()) if len(vr) else None,
        "model_strict_accuracy": float((model == labels).mean()) if len(vr) else None,
        "hw_label_differs_from_model": int((hw != model).sum()),
        f"{cyc_key}_per_image": _stats(cycles),
        "cycle_model_agrees": f"{sum(a == b for a, b in pred)}/{len(pred)}" if pred else "n/a",
        "debug_spikes_checked": int(sum(r.get("n_spikes", 0) for r in recs)),
        "cycle_key": cyc_key,
        "sim_cycles": int(report["sim_cycles"]), "bench_wall_s": wall,
        "sim_cycles_per_s": report["sim_cycles"] / wall if wall > 0 else None,
        "images_per_s": len(recs) / wall if wall > 0 else None,
    }


def format_summary(s: dict, simulator: str) -> str:
    c = s.get("cycles_fast_per_image") or s.get("cycles_debug_per_image") or {}
    lines = [
        f"simulator {simulator}, {s['mode']} mode: {s['images']} images "
        f"({s['vector_images']} test vectors + {s['stress_images']} stress), "
        f"debug pass (every spike checked) on {s['debug_pass_images']}, "
        f"{s['randomised_images']} of those with random idle/back-pressure",
        f"mismatches: {s['mismatches']}   cycle-count differences: {s['cycle_differences']}   "
        f"cycle model agrees on {s['cycle_model_agrees']}",
    ]
    if s["hw_strict_accuracy"] is not None:
        lines.append(f"hardware strict accuracy {s['hw_strict_accuracy']:.4f}  (model strict "
                     f"{s['model_strict_accuracy']:.4f} on the same {s['vector_images']} images, "
                     f"{s['hw_label_differs_from_model']} labels differ)")
    if c:
        lines.append(f"cycles per image: mean {c['mean']:.1f}  p50 {c['p50']:.0f}  p99 {c['p99']:.0f}  "
                     f"max {c['max']}")
    jobs = s.get("jobs", 1)
    where = (f"{jobs} shard{'s' if jobs > 1 else ''} on the Dask cluster at {s['scheduler']}"
             if s.get("scheduler") else f"{jobs} simulator process{'es' if jobs > 1 else ''}")
    lines.append(f"simulated {s['sim_cycles']} cycles in {s['bench_wall_s']:.1f} s ({where}): "
                 f"{s['sim_cycles_per_s']:.0f} cycles/s, {s['images_per_s']:.1f} images/s "
                 f"(debug spikes checked: {s['debug_spikes_checked']})")
    return "\n".join(lines)


def core_sources() -> str:
    """Which core was simulated: git HEAD, and whether hdl/ differed from it."""
    import subprocess
    from sim.build import REPO, _sources_hash
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                              capture_output=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "hdl/"], cwd=REPO, text=True,
                               capture_output=True).stdout.strip()
    except OSError:
        head, dirty = "?", ""
    return f"git {head}{' + uncommitted hdl changes' if dirty else ''}, sources {_sources_hash()[:12]}"


def check_numbers(args) -> None:
    """Refuse out-of-range options before the build (UsageError naming the option)."""
    checks = [("--images", args.images, args.images is None or args.images >= 1, "a count >= 1"),
              ("--jobs", args.jobs, args.jobs is None or args.jobs >= 1, "an integer >= 1"),
              ("--connect-timeout", args.connect_timeout, args.connect_timeout > 0, "seconds > 0"),
              ("--debug-every", args.debug_every, args.debug_every >= 1, "an integer >= 1"),
              ("--random-every", args.random_every, args.random_every >= 0, "an integer >= 0"),
              ("--idle", args.idle, 0 <= args.idle < 1, "a probability in [0, 1)"),
              ("--stall", args.stall, 0 <= args.stall < 1, "a probability in [0, 1)"),
              ("--max-wall", args.max_wall, args.max_wall is None or args.max_wall > 0,
               "seconds > 0"),
              ("--max-failures", args.max_failures, args.max_failures >= 1, "an integer >= 1")]
    for flag, value, ok, what in checks:
        if not ok:
            raise UsageError(f"{flag} {value}: expected {what}")
    passes = [p.strip() for p in args.passes.split(",") if p.strip()]
    if not passes or set(passes) - {"fast", "debug"}:
        raise UsageError(f"--passes {args.passes!r}: expected a comma list of fast, debug")
    if args.plots.exists() and not args.plots.is_dir():
        raise UsageError(f"--plots {args.plots}: is not a directory")
    if args.json is not None:
        check_output_file(args.json, "--json")
    if args.html is not None:
        check_output_file(args.html, "--html")
        if args.json is not None and args.html.resolve() == args.json.resolve():
            raise UsageError(f"--html {args.html}: is also the --json report")


@command
def main(argv=None) -> int:
    ap = Parser(prog="python -m sim.regress", description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifacts", help="artifact directory (docs/artifacts.md)")
    ap.add_argument("--simulator", choices=("icarus", "verilator"), default="verilator")
    ap.add_argument("--images", type=int, default=None, metavar="N",
                    help="first N golden test vectors (default: all)")
    ap.add_argument("--no-stress", action="store_true", help="leave out the stress vectors")
    ap.add_argument("--mode", choices=("early", "full"), default="early")
    ap.add_argument("--passes", default="fast,debug",
                    help="comma list of fast, debug (default: both)")
    ap.add_argument("--debug-every", type=int, default=1, metavar="K",
                    help="run the debug pass on every K-th image only (default 1: all)")
    ap.add_argument("--random-every", type=int, default=10, metavar="K",
                    help="random idle cycles/back-pressure in every K-th debug pass "
                         "(0: never, 1: all; default 10)")
    ap.add_argument("--max-wall", type=float, default=None, metavar="S",
                    help="start no new image after S seconds of simulation; the summary says "
                         "how many ran")
    ap.add_argument("--idle", type=float, default=0.3, help="idle-cycle probability (0.3)")
    ap.add_argument("--stall", type=float, default=0.3, help="ready-low probability (0.3)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shard", type=parse_shard, default=(0, 1), metavar="i/n",
                    help="run every n-th image starting at i")
    ap.add_argument("--jobs", type=int, default=None, metavar="N",
                    help="shards of the images run at once: simulator processes here (default "
                         "1; one per core is fastest) or, with --scheduler, tasks on the "
                         "cluster (default: one per worker thread); the report depends on N "
                         "only")
    ap.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run the shards on the workers of the Dask cluster whose scheduler "
                         "is at ADDRESS (tcp://host:8786; the cluster extra, docs/cluster.md) "
                         "instead of local processes")
    ap.add_argument("--connect-timeout", type=float, default=CONNECT_TIMEOUT_S, metavar="S",
                    help=f"give up on --scheduler after S seconds (default {CONNECT_TIMEOUT_S:g})")
    ap.add_argument("--json", type=Path, default=None, metavar="REPORT",
                    help="write the summary, mismatches and per-image records here")
    ap.add_argument("--html", type=Path, default=None, metavar="PATH",
                    help="write one self-contained HTML report: summary, cycle histogram, "
                         "rasters of the mismatches and of the first 3 test images")
    ap.add_argument("--waves", action="store_true", help="dump waveforms (slow)")
    ap.add_argument("--raster", type=int, action="append", default=[], metavar="IMG",
                    help="draw the spike raster of test vector IMG (repeatable)")
    ap.add_argument("--plots", type=Path, default=Path("sim_build/rasters"),
                    help="folder for raster PNGs (default sim_build/rasters)")
    ap.add_argument("--build-key", default=None, metavar="KEY",
                    help="reuse sim_build/{core,SIM}-KEY even if hdl/ changed since (the "
                         "summary names the key)")
    ap.add_argument("--build-root", type=Path, default=None, metavar="DIR",
                    help="build (or reuse) the bench under DIR instead of sim_build/")
    ap.add_argument("--max-failures", type=int, default=50)
    ap.add_argument("--strict-cycles", action="store_true",
                    help="also fail on cycle-count differences")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    add_core_arguments(ap, debug_port=False)
    args = ap.parse_args(argv)
    check_numbers(args)
    params = core_kwargs(args)

    from sim.build import Bench
    art = load_artifacts(args.artifacts)
    n_vec = int(art.manifest["vectors"]["vectors"]["count"])
    for k in args.raster:
        if not 0 <= k < n_vec:
            raise UsageError(f"--raster {k}: expected a test vector index in 0..{n_vec - 1}")
    images = select_images(art, args.images, not args.no_stress, args.shard)
    wanted = {("vectors", k) for k in args.raster}
    for k in args.raster:
        if ("vectors", k) not in images:
            images.append(("vectors", k))
    examples = [k for k in images if k[0] == "vectors"][:3] if args.html else []
    if not images:
        raise UsageError(f"--shard {args.shard[0]}/{args.shard[1]}: selects no image of "
                         f"{args.artifacts}")
    passes = tuple(p.strip() for p in args.passes.split(",") if p.strip())
    with (connect(args.scheduler, args.connect_timeout) if args.scheduler else nullcontext()) as cluster:
        t0 = time.perf_counter()
        bench = Bench(args.artifacts, simulator=args.simulator, core_params=params,
                      waves=args.waves, build_key=args.build_key, build_root=args.build_root)
        t_build = time.perf_counter() - t0
        report = bench.run(images, mode=args.mode, passes=passes, random_every=args.random_every,
                           idle=args.idle, stall=args.stall, seed=args.seed,
                           keep_spikes=wanted | set(examples),
                           progress=not args.quiet, max_failures=args.max_failures,
                           strict_cycles=args.strict_cycles, debug_every=args.debug_every,
                           max_wall_s=args.max_wall, shards=cluster,
                           jobs=args.jobs or (cluster.threads if cluster else 1))
        wall = time.perf_counter() - t0
    s = summarise(report, art, args.mode)
    s["stopped"] = report.get("stopped")
    s["requested_images"] = report.get("requested")
    s.update({"core_sources": core_sources() if args.build_key is None else
              f"prebuilt sim_build/core-{args.build_key} (hdl/ may have changed since)",
              "jobs": report["jobs"], "scheduler": args.scheduler, "build_key": bench.key,
              "simulator": args.simulator, "core_params": params, "passes": list(passes),
              "build_s": t_build, "total_wall_s": wall, "artifacts": str(args.artifacts),
              "core_build": str(bench.build_dir)})
    bad = [r for r in report["records"] if not r["ok"]]
    for r in bad[:10]:
        for m in r["messages"][:8]:
            print(m)
    cyc_bad = [m for r in report["records"] for m in r.get("cycle_messages", [])]
    for m in cyc_bad[:5]:
        print(m)
    plots = draw_rasters(report, art, args.mode, wanted, args.plots)
    print(f"core: {s['core_sources']}, parameters {core_cli_args(params) or 'default'}")
    if s["stopped"]:
        print(f"STOPPED EARLY: {s['stopped']}")
    print(format_summary(s, args.simulator))
    print(f"wall {wall:.1f} s (build/generate {t_build:.1f} s)")
    for p in plots:
        print(f"raster: {p}")
    cmd_line = "python -m sim.regress " + shlex.join(argv if argv is not None else sys.argv[1:])
    if args.html:
        from sim.html_report import write_regress_html
        html = write_regress_html(args.html, s, report["records"], art, cmd_line, examples)
        print(f"html report: {html}")
    if args.json:
        out = {"command": cmd_line,
               "summary": s, "mismatches": [{k: r[k] for k in ("set", "index", "messages", "first_part")
                                             if k in r} for r in bad],
               "cycle_messages": cyc_bad,
               "records": [{k: v for k, v in r.items() if k not in ("hw_spikes", "messages")}
                           for r in report["records"]]}
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(out, indent=1))
    failed = bool(bad) or (args.strict_cycles and bool(cyc_bad)) or bool(s["stopped"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
