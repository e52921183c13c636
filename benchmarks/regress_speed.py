"""Speed of the Verilator regression: a first build from scratch, then every image checked.

    python benchmarks/regress_speed.py --artifacts artifacts/mnist artifacts/fashion \
        --out benchmarks/results/regress_speed_mnist.txt

Per artifact directory: a fresh build of its bench in a new folder under --build-root (the
generated core, Verilator and the C++ compile; the seconds of the whole and of the compile
apart), then ``python -m sim.regress DIR --simulator verilator --jobs J --debug-every 1``
on the whole test set and the stress vectors (--images N for fewer): both passes on every
image, every spike of every image and every cycle count checked (--strict-cycles). Printed
per set and in total: images, simulated cycles, wall seconds, images/s, the simulator
processes' CPU seconds, and the ratio against the harness before this one (BASELINE: one
process, measured on the idle machine at commit 908effe). The machine is shared, so the load
average goes next to every figure.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench_log import BenchLog, load_text  # noqa: E402

# The harness before this one (wide ev_buf/sp_buf vectors over the VPI, --public-flat-rw),
# commit 908effe, idle machine: `python -m sim.regress artifacts/mnist --simulator verilator
# --images 300 --no-stress --quiet`, one process, both passes on every image.
BASELINE = {"commit": "908effe", "images_per_s": 16.2, "cycles_per_s": 6365,
            "build_s": (144, 223)}


def child_cpu() -> float:
    """CPU seconds of every finished child process (the simulators run as grandchildren)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def fresh_build(art: Path, root: Path, log) -> float:
    """Build the bench of ``art`` from scratch under ``root`` (sim.regress on one image, so
    that the build is the one the regression reuses); the build's wall seconds."""
    log(f"first build of {art} in {root} ({load_text()})")
    c0 = child_cpu()
    with tempfile.TemporaryDirectory() as tmp:
        rep = Path(tmp) / "build.json"
        subprocess.run([sys.executable, "-m", "sim.regress", str(art), "--simulator", "verilator",
                        "--images", "1", "--no-stress", "--passes", "fast", "--quiet",
                        "--build-root", str(root), "--json", str(rep)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        wall = json.loads(rep.read_text())["summary"]["build_s"]
    logs = sorted(root.glob("verilator-*/build.log"))
    compile_s = ""
    if logs:            # the compile: from the generated Verilog to the linked simulator
        v = next(root.glob("core-*/bench_top.v"))
        compile_s = f", of which Verilator + C++ {logs[0].stat().st_mtime - v.stat().st_mtime:.1f} s"
    log(f"  build {wall:.1f} s wall{compile_s}, {child_cpu() - c0:.1f} CPU-s with a one-image "
        f"run (baseline {BASELINE['build_s'][0]}-{BASELINE['build_s'][1]} s)   ({load_text()})")
    return wall


def regress(art: Path, root: Path, args, log) -> dict:
    """One sim.regress run over ``art``; its summary, with the children's CPU seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        rep = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "sim.regress", str(art), "--simulator", "verilator",
               "--jobs", str(args.jobs), "--debug-every", "1", "--strict-cycles", "--quiet",
               "--build-root", str(root), "--json", str(rep)]
        if args.images is not None:
            cmd += ["--images", str(args.images)]
        if args.no_stress:
            cmd.append("--no-stress")
        log("$ python " + " ".join(cmd[1:]).replace(str(rep), "REPORT"))
        c0 = time.perf_counter(), child_cpu()
        p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        s = json.loads(rep.read_text())["summary"] if rep.is_file() else {}
    s["cpu_s"], s["rc"] = child_cpu() - c0[1], p.returncode
    s["wall_s"] = time.perf_counter() - c0[0]
    for line in p.stdout.splitlines():
        if line.startswith(("simulator", "mismatches", "hardware", "cycles per", "simulated")):
            log("  " + line)
    return s


def report(name: str, s: dict, log) -> None:
    wall, n = s["bench_wall_s"], s["images"]
    log(f"{name}: {n} images, {s['sim_cycles']:,} simulated cycles, {wall:.1f} s wall "
        f"({s['wall_s']:.1f} s with start-up), {n / wall:.1f} images/s, "
        f"{s['sim_cycles'] / wall:,.0f} cycles/s; simulators {s['cpu_s']:.1f} CPU-s "
        f"({n / s['cpu_s']:.1f} images per CPU-s, {s['sim_cycles'] / s['cpu_s']:,.0f} cycles "
        f"per CPU-s: x{n / s['cpu_s'] / BASELINE['images_per_s']:.1f} images and "
        f"x{s['sim_cycles'] / s['cpu_s'] / BASELINE['cycles_per_s']:.1f} cycles per CPU-s "
        f"against the baseline's {BASELINE['images_per_s']} images/s and "
        f"{BASELINE['cycles_per_s']:,} cycles/s per process); exit status {s['rc']}   "
        f"({load_text()})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifacts", nargs="+", type=Path, required=True, metavar="DIR",
                    help="artifact directories, each a test set (and its own build)")
    ap.add_argument("--build-root", type=Path, default=ROOT / "sim_build",
                    help="a new folder for the fresh builds is made in here (sim_build/)")
    ap.add_argument("--keep-build", action="store_true", help="keep the fresh builds")
    ap.add_argument("--jobs", type=int, default=2, help="simulator processes (2)")
    ap.add_argument("--images", type=int, default=None, metavar="N",
                    help="first N test vectors of each set (default: all)")
    ap.add_argument("--no-stress", action="store_true", help="leave out the stress vectors")
    ap.add_argument("--out", type=Path, default=None, help="keep the lines here")
    args = ap.parse_args(argv)
    for d in args.artifacts:
        if not (d / "manifest.json").is_file():
            ap.error(f"--artifacts {d}: not an artifact directory (no manifest.json)")
    log = BenchLog(__file__, argv)
    log(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {load_text()}")
    args.build_root.mkdir(parents=True, exist_ok=True)
    total = {"images": 0, "sim_cycles": 0, "bench_wall_s": 0.0, "wall_s": 0.0, "cpu_s": 0.0,
             "rc": 0}
    for d in args.artifacts:
        root = Path(tempfile.mkdtemp(prefix="regress-speed-", dir=args.build_root))
        try:
            fresh_build(d, root, log)
            s = regress(d, root, args, log)
        finally:
            if not args.keep_build:
                shutil.rmtree(root, ignore_errors=True)
        report(str(d), s, log)
        for k in total:
            total[k] = max(total[k], s[k]) if k == "rc" else total[k] + s[k]
    if len(args.artifacts) > 1:
        report("total", total, log)
    log.save(args.out)
    return total["rc"]


if __name__ == "__main__":
    sys.exit(main())
