"""Shrink a failing fuzz case to a small reproducer (docs/fuzz.md, "Shrinking").

First the failing images alone (one, else all that failed), then delta debugging over the
inputs that carry events: drop a chunk of them (their pixels set to 0), keep the smaller
case when it still fails. Each round derives its candidates in one
``python -m export.fuzz_cases derive`` process (the golden model lives outside sim/) and
simulates them in one run of the bench.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from contract.artifacts import load_artifacts

REPO = Path(__file__).resolve().parent.parent


def derive(src: Path, keep: list[tuple[str, int]], drops: list[list[int]], out: Path) -> list[Path]:
    """Candidate cases out/v0, out/v1, ... (one per drop list)."""
    cmd = [sys.executable, "-m", "export.fuzz_cases", "derive", str(src), "--out", str(out)]
    for s, n in keep:
        cmd += ["--keep", f"{s}:{n}"]
    for d in drops:
        cmd += ["--drop", ",".join(map(str, d))]
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return [out / f"v{k}" for k in range(max(1, len(drops)))]


def active_inputs(case: Path) -> list[int]:
    """Inputs with a pixel > 0 in any image of the case (the ones that send events)."""
    imgs = load_artifacts(case).vectors["images"]
    return np.flatnonzero((imgs > 0).any(axis=0)).tolist()


def shrink(case: Path, failures: list[dict], fails, work: Path, max_rounds: int = 12) -> Path:
    """The smallest failing case found, copied to ``work / "reproducer"``.

    fails(list of case dirs) -> list of bool: whether each still fails (one simulation).
    """
    images = [(f["set"], f["index"]) for f in failures if f["set"] in ("vectors", "stress")]
    best, keep, rounds = case, None, 0
    for tried in ([images[:1]], [images]) if images else ():
        cand = derive(case, tried[0], [], work / f"r{rounds}")[0]
        rounds += 1
        if fails([cand])[0]:
            best, keep = cand, tried[0]
            break
    if keep is not None:
        active, n = active_inputs(best), 2
        dropped: list[int] = []
        while len(active) >= 2 and rounds < max_rounds and n <= len(active):
            chunks = [c.tolist() for c in np.array_split(np.array(active), n)]
            cands = derive(case, keep, [dropped + c for c in chunks], work / f"r{rounds}")
            rounds += 1
            hit = next((k for k, bad in enumerate(fails(cands)) if bad), None)
            if hit is None:
                n *= 2
                continue
            best = cands[hit]
            dropped += chunks[hit]
            active = [i for i in active if i not in set(chunks[hit])]
            n = max(2, n - 1)
    out = work / "reproducer"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(best, out)
    return out
