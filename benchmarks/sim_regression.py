"""Run a cocotb regression and keep its output as benchmark results.

    python benchmarks/sim_regression.py NAME -- ARTIFACT_DIR --simulator verilator [...]
    python benchmarks/sim_regression.py --ensemble NAME -- DIR --members 3 [...]

runs `python -m sim.regress ARGS --json benchmarks/results/sim_NAME.json` (with
``--ensemble``: `python -m sim.ensemble`, the hardware ensemble's regression) and writes the
command line, the machine and the printed summary (simulator log lines left out) to
benchmarks/results/sim_NAME.txt; the JSON keeps the summary and any mismatches.
"""
from __future__ import annotations

import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from contract.files import atomic_path  # noqa: E402  (run as a script from any folder)


_SIM_LOG = re.compile(r"^\s*(-\.--|\d+\.\d+)ns |^\s*\*\*|^\s{20,}|^- :0: |^INFO |^\s*$")


def summary_lines(stdout: str) -> str:
    """sim.regress's own output, without the simulator's and cocotb's log lines."""
    return "".join(ln for ln in stdout.splitlines(keepends=True) if not _SIM_LOG.match(ln))


def strip_records(path: Path):
    """Keep the summary and the mismatches; per-image records are too bulky to commit."""
    import json
    if path.is_file():
        d = json.loads(path.read_text())
        d.pop("records", None)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(d, indent=1))


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    module = "sim.regress"
    if argv[:1] == ["--ensemble"]:
        module, argv = "sim.ensemble", argv[1:]
    if len(argv) < 3 or argv[1] != "--" or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    name, args = argv[0], argv[2:]
    res = ROOT / "benchmarks" / "results"
    res.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", module, *args, "--json", str(res / f"sim_{name}.json")]
    shown = f"python -m {module} " + " ".join(shlex.quote(a) for a in args) + \
        f" --json benchmarks/results/sim_{name}.json"
    t0 = time.time()
    p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    head = (f"$ {shown}\n# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t0))}, "
            f"{platform.node() and 'host'} {platform.machine()}, {os.cpu_count()} CPUs "
            f"(shared with other jobs), exit status {p.returncode}\n")
    text = head + summary_lines(p.stdout)
    strip_records(res / f"sim_{name}.json")
    with atomic_path(res / f"sim_{name}.txt") as tmp:
        tmp.write_text(text)
    print(text)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
