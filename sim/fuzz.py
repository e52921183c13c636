"""Fuzz the core: random networks through one runtime-weights build per shape (docs/fuzz.md).

    python -m sim.fuzz --nets 100 --seed 1
    python -m sim.fuzz --nets 1000 --seed 7 --simulator verilator --images 20 --jobs 2

``python -m export.fuzz_cases generate`` (a separate process: sim/ never imports model/ or
export/) writes one artifact directory per random network (2 to 4 weight layers, threshold
mixes, random and stress images, golden vectors) under OUT/cases; each shape is built once
with ``--runtime-weights``; the cocotb bench (sim/fuzz_bench.py) loads every network of the
shape through ``i_load`` and checks every image in early and full mode (decision, output
times, cycle count) and every spike in a debug pass. A failing network is shrunk
(sim/fuzz_shrink.py) to a reproducer artifact directory, whose path is printed. Exit 1 when
any network fails.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from contract.cli import Parser, command
from contract.errors import UsageError
from sim.build import BATCH_IMAGES, REPO, Bench

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
              progress_dir: Path | None = None) -> list[dict]:
    """Every case (per shape) through its shape's bench, in ``args.jobs`` simulator
    processes at a time, each taking a share of one shape's cases."""
    tasks = [(shape, i, cs[i::args.jobs]) for shape, cs in cases.items()
             for i in range(min(args.jobs, len(cs)))]
    logs.mkdir(parents=True, exist_ok=True)

    def one(task) -> list[dict]:
        shape, i, part = task
        bench = benches[shape]
        job = {"cases": part, "debug_every": args.debug_every, "progress": False,
               "inject_fault": args.inject_fault, "expect_failures": True,
               "batch": {"images": BATCH_IMAGES, "events": bench._max_events}}
        if progress_dir is not None:
            job["progress_file"] = str(progress_dir / f"{shape}-{i}")
        return bench.run_job(job, logs / f"{shape}-{i}.log", test_module="sim.fuzz_bench")["records"]

    with ThreadPoolExecutor(args.jobs) as pool:
        return [r for recs in pool.map(one, tasks) for r in recs]


def check_args(args) -> None:
    for flag, v, low in (("--nets", args.nets, 1), ("--images", args.images, 1),
                         ("--shapes", args.shapes, 1), ("--jobs", args.jobs, 1),
                         ("--debug-every", args.debug_every, 1), ("--shrink", args.shrink, 0)):
        if v < low:
            raise UsageError(f"{flag} {v}: expected an integer >= {low}")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out}: is not a directory")


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
    ap.add_argument("--jobs", type=int, default=2, help="simulator processes (2)")
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
        records = run_cases(benches, shapes, args, args.out / "logs", progress)
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
    print(f"fuzz seed {args.seed}: {len(records)} networks in {len(shapes)} shapes "
          f"({builds} builds), {n_img} images x (early + full + debug every "
          f"{args.debug_every}): {len(failing)} failing; {wall:.0f} s (cases {t_gen:.0f} s, "
          f"builds {t_build:.0f} s), {args.simulator}, {args.jobs} jobs, load average "
          f"{load0:.1f} -> {os.getloadavg()[0]:.1f}")
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
