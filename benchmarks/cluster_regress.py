"""The Verilator regression on a local Dask cluster beside ``--jobs``: same report, wall time.

    python benchmarks/cluster_regress.py --artifacts artifacts/mnist \
        --out benchmarks/results/cluster_regress_mnist.txt
    python benchmarks/cluster_regress.py --artifacts artifacts/mnist --images 200   # a quick look

Builds (or reuses) the bench with a one-image run (not timed), starts a local cluster of
--workers worker processes of one thread each (docs/cluster.md), then runs
``python -m sim.regress DIR --simulator verilator --debug-every 1 --strict-cycles`` on the
whole test set and the stress vectors (--images N for fewer) with ``--jobs W`` and with
``--scheduler ADDRESS`` (W shards, one per worker), their order swapped every --rounds.
Printed per run: the wall seconds of the whole command and of the simulation (the summary's
bench_wall_s) and the CPU seconds of every process involved (the command and its simulators;
for the cluster also its workers with their simulators, and the scheduler and nannies in this
process): on a loaded machine the wall times swing, the CPU seconds show the cluster's own
cost. Then whether the two JSON reports are equal apart from the timing fields, the command
line and the scheduler. Target (issue 17): equal reports, the cluster's wall time within 10 %
of ``--jobs``'.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench_log import BenchLog, load_text  # noqa: E402

TIMING = {"bench_wall_s", "sim_cycles_per_s", "images_per_s", "build_s", "total_wall_s"}


def comparable(report: dict) -> dict:
    """The report less its timing fields, its command line and the scheduler it ran on."""
    return {**report, "command": None,
            "summary": {k: v for k, v in report["summary"].items() if k not in TIMING | {"scheduler"}}}


def cpu_seconds(workers: list) -> float:
    """CPU seconds so far of this process's finished children and, given the cluster's worker
    processes (``workers``: psutil.Process), of those with their finished children and of this
    process (the scheduler and the nannies)."""
    own = [resource.getrusage(resource.RUSAGE_CHILDREN)]
    if workers:
        own.append(resource.getrusage(resource.RUSAGE_SELF))
    times = [w.cpu_times() for w in workers]
    return (sum(r.ru_utime + r.ru_stime for r in own)
            + sum(t.user + t.system + t.children_user + t.children_system for t in times))


def regress(art: Path, args, where: list[str], rep: Path, log, workers: list) -> dict:
    """One sim.regress run; its JSON report with the command's wall and CPU seconds and exit
    status."""
    cmd = [sys.executable, "-m", "sim.regress", str(art), "--simulator", "verilator",
           "--debug-every", "1", "--strict-cycles", "--quiet", "--json", str(rep), *where]
    if args.images is not None:
        cmd += ["--images", str(args.images)]
    log("$ python " + " ".join(cmd[1:]).replace(str(rep), "REPORT") + f"   ({load_text()})")
    t0, c0 = time.perf_counter(), cpu_seconds(workers)
    p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    wall, cpu = time.perf_counter() - t0, cpu_seconds(workers) - c0
    out = json.loads(rep.read_text()) if rep.is_file() else {"summary": {}}
    s = out["summary"]
    log(f"  exit status {p.returncode}, wall {wall:.1f} s (simulation {s.get('bench_wall_s', 0):.1f} s), "
        f"{cpu:.1f} CPU-s, {s.get('images')} images, {s.get('mismatches')} mismatches, "
        f"{s.get('cycle_differences')} cycle differences   ({load_text()})")
    return {"report": out, "wall_s": wall, "cpu_s": cpu, "rc": p.returncode}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifacts", type=Path, required=True, metavar="DIR")
    ap.add_argument("--workers", type=int, default=2,
                    help="cluster worker processes, one thread each, and --jobs (2)")
    ap.add_argument("--images", type=int, default=None, metavar="N",
                    help="first N test vectors (default: all)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="pairs of runs, the order swapped every round (1)")
    ap.add_argument("--out", type=Path, default=None, help="keep the lines here")
    args = ap.parse_args(argv)
    if not (args.artifacts / "manifest.json").is_file():
        ap.error(f"--artifacts {args.artifacts}: not an artifact directory (no manifest.json)")
    import psutil
    from distributed import Client, LocalCluster
    log = BenchLog(__file__, argv)
    log(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {load_text()}")
    subprocess.run([sys.executable, "-m", "sim.regress", str(args.artifacts), "--simulator",
                    "verilator", "--images", "1", "--no-stress", "--passes", "fast", "--quiet"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    walls, cpus = {"jobs": [], "cluster": []}, {"jobs": [], "cluster": []}
    equal = True
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, tempfile.TemporaryDirectory() as tmp:
        with Client(cluster.scheduler_address) as client:
            workers = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
        log(f"local cluster at {cluster.scheduler_address}: {args.workers} worker processes x 1 thread")
        ways = {"jobs": ["--jobs", str(args.workers)],
                "cluster": ["--scheduler", cluster.scheduler_address]}
        for r in range(args.rounds):
            runs = {}
            for name in (("jobs", "cluster") if r % 2 == 0 else ("cluster", "jobs")):
                runs[name] = regress(args.artifacts, args, ways[name], Path(tmp) / f"{name}.json",
                                     log, workers if name == "cluster" else [])
                walls[name].append(runs[name]["wall_s"])
                cpus[name].append(runs[name]["cpu_s"])
            same = comparable(runs["jobs"]["report"]) == comparable(runs["cluster"]["report"])
            equal = equal and same and runs["jobs"]["rc"] == runs["cluster"]["rc"] == 0
            log(f"round {r + 1}: reports equal (apart from timing, command, scheduler): "
                f"{'yes' if same else 'NO'}; cluster / jobs wall "
                f"{runs['cluster']['wall_s'] / runs['jobs']['wall_s']:.3f}")
    mean = {k: sum(v) / len(v) for k, v in walls.items()}
    ratio = mean["cluster"] / mean["jobs"]
    cpu = {k: sum(v) / len(v) for k, v in cpus.items()}
    log(f"mean wall: --jobs {args.workers} {mean['jobs']:.1f} s, local cluster {mean['cluster']:.1f} s "
        f"(x{ratio:.3f}, {'within' if ratio <= 1.10 else 'NOT within'} 10 %); mean CPU: "
        f"{cpu['jobs']:.1f} and {cpu['cluster']:.1f} CPU-s (x{cpu['cluster'] / cpu['jobs']:.3f}); "
        f"reports equal and exit status 0: {'yes' if equal else 'NO'}")
    log.save(args.out)
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
