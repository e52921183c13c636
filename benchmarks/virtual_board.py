"""The virtual board's targets, with the commands and the machine's load on top of the results.

    python benchmarks/virtual_board.py host ARTIFACT_DIR [--images 1000] [--divisor 4]
        [--out benchmarks/results/virtual_board.txt]
    python benchmarks/virtual_board.py faults ARTIFACT_DIR|small [--frames 10000] [--seed 1]
        [--divisor 4] [--max-events N] [--out benchmarks/results/link_faults.txt]

``host`` starts ``python -m sim.board`` on a free loopback port, runs ``python -m hdl.host
--port socket://127.0.0.1:PORT`` against it, stops the server (SIGTERM) and records both
outputs; ``faults`` runs ``python -m sim.link_torture`` (which starts its own server).
``small`` instead of an artifact directory exports the random 784-32-10 network of
tests/test_virtual_board.py (seed 5) with 1000 MNIST golden vectors to
``build/vboard_small`` first: its board simulates ~10x faster than a 784-600-10 one.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from contract.files import atomic_path  # noqa: E402  (run as a script from any folder)
from sim.board_launch import ServerProcess  # noqa: E402


def header(commands: list[str], wall: float, status: int, load0, load1) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    lines = [f"# command: {c}" for c in commands]
    lines.append(f"# date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}, "
                 f"wall {wall:.0f} s, exit {status}")
    lines.append(f"# machine: {os.cpu_count()} CPUs shared with other work; load average "
                 f"{load0[0]:.1f} at the start, {load1[0]:.1f} at the end")
    return "\n".join(lines) + "\n\n"


def run_host(args) -> tuple[list[str], str, int]:
    with ServerProcess(args.artifacts, "--divisor", args.divisor) as server:
        host = [sys.executable, "-m", "hdl.host", "--port", server.url, str(args.artifacts),
                "--images", str(args.images)]
        done = subprocess.run(host, cwd=ROOT, capture_output=True, text=True)
        stopped = server.stop()
    commands = [server.command, "python " + shlex.join(host[1:])]
    text = (done.stdout + done.stderr + "\nserver:\n" + "\n".join(server.log)
            + f"\nserver exit status {stopped}\n")
    return commands, text, done.returncode or stopped


SMALL = ROOT / "build/vboard_small"


def small_network() -> tuple[Path, str]:
    """Export the small random network (see the module docstring); (directory, how)."""
    import numpy as np
    from export import weights as exporter
    from model.checkpoint import Checkpoint
    rng = np.random.default_rng(5)
    widths = (784, 32, 10)
    latent = [rng.standard_normal((widths[k + 1], widths[k])).astype(np.float32)
              for k in range(len(widths) - 1)]
    SMALL.mkdir(parents=True, exist_ok=True)
    Checkpoint(latent, np.ones(len(latent)), {"mode": "binary", "thr": [100.0, 100.0],
                                              "theta": [8, 2], "dataset": "mnist"}).save(SMALL / "net.npz")
    args = [SMALL / "net.npz", "--out", SMALL / "art", "--vectors", 1000, "--quiet"]
    if exporter.main([str(a) for a in args]) != 0:
        raise SystemExit("export of the small network failed")
    return SMALL / "art", ("small network: random 784-32-10 (seed 5, theta 8 2) exported by "
                           "benchmarks/virtual_board.py small_network() with 1000 vectors")


def run_faults(args) -> tuple[list[str], str, int]:
    note = ""
    if str(args.artifacts) == "small":
        args.artifacts, note = small_network()
    cmd = [sys.executable, "-m", "sim.link_torture", str(args.artifacts), "--frames",
           str(args.frames), "--seed", str(args.seed), "--divisor", str(args.divisor)]
    if args.max_events is not None:
        cmd += ["--max-events", str(args.max_events)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return ["python " + shlex.join(cmd[1:])], note + "\n" + done.stdout + done.stderr, done.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", choices=("host", "faults"))
    ap.add_argument("artifacts", type=Path)
    ap.add_argument("--divisor", type=int, default=4)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-events", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or ROOT / "benchmarks/results" / (
        "virtual_board.txt" if args.target == "host" else "link_faults.txt")
    load0, t0 = os.getloadavg(), time.monotonic()
    commands, text, status = (run_host if args.target == "host" else run_faults)(args)
    wall = time.monotonic() - t0
    with atomic_path(out) as tmp:
        tmp.write_text(header(["python " + shlex.join(sys.argv)] + commands, wall, status,
                              load0, os.getloadavg()) + text)
    print(text)
    print(f"wrote {out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
