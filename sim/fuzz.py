"""Fuzz the core: random networks through one runtime-weights build per shape (docs/fuzz.md).

    python -m sim.fuzz --nets 100 --seed 1
    python -m sim.fuzz --nets 1000 --seed 7 --simulator verilator --images 20 --jobs 2
    python -m sim.fuzz --nets 1000 --seed 7 --scheduler tcp://HOST:8786 --json fuzz.json

``python -m export.fuzz_cases generate`` (a separate process: sim/ never imports model/ or
export/) writes one artifact directory per random network (2 to 4 weight layers, threshold
mixes, random and stress images, golden vectors) under OUT/cases; each shape is built once
with ``--runtime-weights``; the cocotb bench (sim/fuzz_bench.py) loads every network of the
shape through ``i_load`` and checks every image in early and full mode (decision, output
times, cycle count) and every spike in a debug pass. A failing network is shrunk
(sim/fuzz_shrink.py) to a reproducer artifact directory, whose path is printed. Exit 1 when
any network fails.

--jobs N: each shape's networks go to N shards run at once, as simulator processes here or,
with --scheduler, as tasks on the workers of a Dask cluster (docs/cluster.md; default N: the
cluster's worker threads); the records depend on N only, not on where the shards ran.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

from contract.cli import Parser, command
from contract.errors import UsageError
from contract.files import atomic_path, check_output_file
from sim.build import BATCH_IMAGES, REPO, Bench
from sim.shards import CONNECT_TIMEOUT_S, LocalShards, Shard, connect

CORE = {"runtime_weights": True}


def generate_cases(args, out: Path) -> dict:
    cmd = [sys.executable, "-m", "export.fuzz_cases", "generate", "--nets", str(args.nets),
           "--seed", str(args.seed), "--images", str(args.images), "--shapes", str(args.shapes),
           "--shape-seed", str(args.shape_seed), "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return json.loads((out / "index.json").read_text())


class Progress:
    """One bar over every simulator process: each appends a line per finished network."""

    def __init__(self, total: int, files: list[Path], enabled: bool):
        self.files, self.stop = files, threading.Event()
        self.bar = None
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="net", file=sys.stderr, desc="fuzz")
            self.thread = threading.Thread(target=self._poll, daemon=True)
            self.thread.start()

    def _count(self) -> int:
        return sum(f.read_text().count("\n") for f in self.files if f.exists())

    def _poll(self):
        while not self.stop.wait(1.0):
            self.bar.n = self._count()
            self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.stop.set()
            self.thread.join()
            self.bar.n = self._count()
            self.bar.close()


def run_cases(benches: dict, cases: dict[str, list[str]], args, logs: Path,
              progress_dir: Path | None = None, shards=None) -> list[dict]:
    """Every case (per shape) through its shape's bench in ``args.jobs`` shards per shape,
    each taking a share of one shape's cases, run by ``shards`` (sim/shards.py; default:
    ``args.jobs`` simulator processes here at a time)."""
    logs.mkdir(parents=True, exist_ok=True)
    tasks = []
    for shape, cs in cases.items():
        bench = benches[shape]
        for i in range(min(args.jobs, len(cs))):
            job = {"cases": cs[i::args.jobs], "debug_every": args.debug_every, "progress": False,
                   "inject_fault": args.inject_fault, "expect_failures": True,
                   "batch": {"images": BATCH_IMAGES, "events": bench._max_events}}
            if progress_dir is not None:
                job["progress_file"] = str(progress_dir / f"{shape}-{i}")
            tasks.append(Shard(bench, job, logs / f"{shape}-{i}.log", "sim.fuzz_bench"))
    reports = (shards or LocalShards(args.jobs)).run(tasks)
    return [r for rep in reports for r in rep["records"]]


def check_args(args) -> None:
    for flag, v, low in (("--nets", args.nets, 1), ("--images", args.images, 1),
                         ("--shapes", args.shapes, 1), ("--jobs", 1 if args.jobs is None else args.jobs, 1),
                         ("--debug-every", args.debug_every, 1), ("--shrink", args.shrink, 0)):
        if v < low:
            raise UsageError(f"{flag} {v}: expected an integer >= {low}")
    if not args.connect_timeout > 0:
        raise UsageError(f"--connect-timeout {args.connect_timeout}: expected seconds > 0")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out}: is not a directory")
    if args.json is not None:
        check_output_file(args.json, "--json")


@command
def main(argv=None) -> int:
    ap = Parser(prog="python -m sim.fuzz", description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", type=int, required=True, help="random networks")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--images", type=int, default=20, help="random images per network (20)")
    ap.add_argument("--shapes", type=int, default=3,
                    help="network shapes (one build each; 2, 3, 4 weight layers in turn)")
    ap.add_argument("--shape-seed", type=int, default=0,
                    help="seed of the shapes (default 0: the same builds for every --seed)")
    ap.add_argument("--jobs", type=int, default=None, metavar="N",
                    help="shards per shape run at once: simulator processes here (default 2) "
                         "or, with --scheduler, tasks on the cluster (default: one per worker "
                         "thread); the records depend on N only")
    ap.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run the shards on the workers of the Dask cluster whose scheduler "
                         "is at ADDRESS (tcp://host:8786; the cluster extra, docs/cluster.md)")
    ap.add_argument("--connect-timeout", type=float, default=CONNECT_TIMEOUT_S, metavar="S",
                    help=f"give up on --scheduler after S seconds (default {CONNECT_TIMEOUT_S:g})")
    ap.add_argument("--json", type=Path, default=None, metavar="REPORT",
                    help="write the summary and every network's record here")
    ap.add_argument("--debug-every", type=int, default=1, metavar="K",
                    help="debug pass (every spike) on every K-th image (1: all)")
    ap.add_argument("--shrink", type=int, default=3, metavar="N",
                    help="shrink at most N failing networks (3)")
    ap.add_argument("--out", type=Path, default=None,
                    help="cases, logs and reproducers (default sim_build/fuzz-SEED)")
    ap.add_argument("--inject-fault", action="store_true",
                    help="flip input 0's first 32 layer-0 weights in every load (a self-test: "
                         "a network with an image that sees them fails and is shrunk)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    args.out = args.out or REPO / "sim_build" / f"fuzz-{args.seed}"
    check_args(args)
    with (connect(args.scheduler, args.connect_timeout) if args.scheduler else nullcontext()) as cluster:
        args.jobs = args.jobs or (cluster.threads if cluster else 2)
        return fuzz(args, cluster, "python -m sim.fuzz " + shlex.join(argv))


def fuzz(args, cluster, command_line: str) -> int:
    """Generate, build, run and shrink (main's work); 1 when any network fails."""
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    index = generate_cases(args, args.out / "cases")
    t_gen = time.perf_counter() - t0
    shapes = index["shapes"]
    with ThreadPoolExecutor(args.jobs) as pool:       # one build per shape
        benches = dict(zip(shapes, pool.map(
            lambda cases: Bench(cases[0], simulator=args.simulator, core_params=CORE),
            shapes.values())))
    builds = len(benches)
    t_build = time.perf_counter() - t0 - t_gen
    progress = args.out / "progress"
    files = [progress / f"{shape}-{i}" for shape in shapes for i in range(args.jobs)]
    progress.mkdir(parents=True, exist_ok=True)
    for f in files:
        f.write_text("")
    bar = Progress(args.nets, files, not args.quiet)
    try:
        records = run_cases(benches, shapes, args, args.out / "logs", progress, cluster)
    finally:
        bar.close()
    failing = [r for r in records if r["failures"]]
    repros = shrink_failures(failing[:args.shrink], benches, args) if failing else []
    for r in failing[:10]:
        for f in r["failures"][:2]:
            print(f"{r['case']}: {f['messages'][0]}")
    for p in repros:
        print(f"reproducer: {p}")
    n_img = sum(r["images"] for r in records)
    wall = time.perf_counter() - t0
    where = f" on the Dask cluster at {args.scheduler}" if args.scheduler else ""
    print(f"fuzz seed {args.seed}: {len(records)} networks in {len(shapes)} shapes "
          f"({builds} builds), {n_img} images x (early + full + debug every "
          f"{args.debug_every}): {len(failing)} failing; {wall:.0f} s (cases {t_gen:.0f} s, "
          f"builds {t_build:.0f} s), {args.simulator}, {args.jobs} jobs{where}, load average "
          f"{load0:.1f} -> {os.getloadavg()[0]:.1f}")
    if args.json is not None:
        summary = {"seed": args.seed, "networks": len(records), "shapes": len(shapes),
                   "builds": builds, "images": n_img, "failing": len(failing),
                   "simulator": args.simulator, "jobs": args.jobs, "scheduler": args.scheduler,
                   "debug_every": args.debug_every, "wall_s": wall, "cases_s": t_gen,
                   "builds_s": t_build}
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps({"command": command_line, "summary": summary,
                                       "records": records,
                                       "reproducers": [str(p) for p in repros]}, indent=1))
    return 1 if failing else 0


def shrink_failures(failing: list[dict], benches: dict, args) -> list[Path]:
    from sim.fuzz_shrink import shrink
    out = []
    for r in failing:
        case = Path(r["case"])
        shape = case.parent.name
        work = args.out / "shrink" / f"{shape}-{case.name}"

        def fails(cands, shape=shape, work=work):
            one = argparse.Namespace(**{**vars(args), "jobs": 1})
            recs = run_cases(benches, {shape: [str(c) for c in cands]}, one, work / "logs")
            return [bool(x["failures"]) for x in recs]
        out.append(shrink(case, r["failures"], fails, work))
    return out


if __name__ == "__main__":
    sys.exit(main())
