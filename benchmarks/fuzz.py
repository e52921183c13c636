"""Run the fuzzer once and keep its output as a benchmark result (docs/fuzz.md).

    python benchmarks/fuzz.py [--nets 1000] [--seed 7] [-- more sim.fuzz options]

runs `python -m sim.fuzz --nets N --seed S --quiet ...` and writes the command line, the
machine, its load average before and after, and sim.fuzz's output (the generator's lines
left out) to benchmarks/results/fuzz_N.txt. The target (issue 16): 1,000 networks x 20
images + stress, bit-exact, in <= 15 minutes on 2 cores with one build per shape.
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from contract.files import atomic_path  # noqa: E402  (run as a script from any folder)

NOISE = ("i_event__payload", "o_result__payload", "o_spike__payload", "wrote ", "core ")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("rest", nargs="*", help="more sim.fuzz options (after --)")
    a = ap.parse_args(argv)
    cmd = [sys.executable, "-m", "sim.fuzz", "--nets", str(a.nets), "--seed", str(a.seed),
           "--quiet", *a.rest]
    shown = "python -m sim.fuzz " + " ".join(shlex.quote(x) for x in cmd[3:])
    load0 = os.getloadavg()
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.time() - t0
    lines = [ln for ln in proc.stdout.splitlines() + proc.stderr.splitlines()[-5:]
             if ln.strip() and not ln.startswith(NOISE)]
    head = (f"$ {shown}\n# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t0))}, host "
            f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), exit status "
            f"{proc.returncode}, wall {wall:.0f} s, load average (1/5/15 min) "
            f"{'/'.join(f'{x:.1f}' for x in load0)} before, "
            f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())} after\n")
    out = ROOT / "benchmarks" / "results" / f"fuzz_{a.nets}.txt"
    with atomic_path(out) as tmp:
        tmp.write_text(head + "\n".join(lines) + "\n")
    print(out.read_text(), end="")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
