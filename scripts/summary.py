"""One-screen summary of a main-job run (scripts/main.sh): what each step measured.

    python scripts/summary.py runs/main

Reads the step outputs main.sh leaves in the run folder: evaluate.json (model.evaluate),
regress.json (sim.regress), build-arty.json (hdl.build) and steps.tsv (step, wall seconds,
CPU seconds).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def load(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def main(argv=None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    run = Path(args[0])
    ev, rg, bd = (load(run / f) for f in ("evaluate.json", "regress.json", "build-arty.json"))
    steps = []
    if (run / "steps.tsv").is_file():
        steps = [ln.split("\t") for ln in (run / "steps.tsv").read_text().splitlines() if ln]
    bar = "=" * 78
    out = [bar, f"BS4NN flow summary ({run})", bar]
    if ev:
        out.append(f"model      {ev['dataset']} {'-'.join(map(str, ev['widths']))}, theta "
                   f"{ev['theta']}: test strict {ev['strict']:.4f}, paper {ev['paper']:.4f} "
                   f"({ev['n']} images, {ev['ties']} ties, {ev['no_spike']} without output spike)")
    if rg:
        s = rg["summary"]
        c = s.get(f"{s['cycle_key']}_per_image") or {}
        out.append(f"hardware   {s['images']} images on {s['simulator']} ({s['mode']} mode, "
                   f"{s['debug_pass_images']} with every spike checked): {s['mismatches']} "
                   f"mismatches, {s['cycle_differences']} cycle-count differences")
        if s["hw_strict_accuracy"] is not None:
            out.append(f"           hardware strict accuracy {s['hw_strict_accuracy']:.4f} = model "
                       f"{s['model_strict_accuracy']:.4f} on those {s['vector_images']} test images")
        if c:
            out.append(f"           cycles per image: mean {c['mean']:.1f}, p50 {c['p50']:.0f}, p99 "
                       f"{c['p99']:.0f}, max {c['max']} ({100e6 / c['mean'] / 1e3:.0f} k images/s at 100 MHz)")
    if bd:
        util = ", ".join(f"{name} {used:g}/{avail} ({100 * used / avail:.0f} %)"
                         for name, used, avail in bd["utilisation"])
        out.append(f"board      {bd['board']} ({bd['device']}), {bd['estimate']}: {util}")
        if bd.get("fmax"):
            out.append("           Fmax " + ", ".join(f"{f:.1f} MHz ({v} at {t:g})" for _, f, v, t in bd["fmax"]))
        out.append(f"           build tree {bd['out']}/")
    if steps:           # name, wall seconds[, CPU seconds of the step's processes]
        total = sum(float(row[1]) for row in steps)
        out.append("time       " + ", ".join(f"{row[0]} {float(row[1]):.0f} s" for row in steps)
                   + f"; total {total / 60:.1f} min")
        if all(len(row) > 2 for row in steps):
            cpu = sum(float(row[2]) for row in steps)
            out.append("CPU time   " + ", ".join(f"{row[0]} {float(row[2]):.0f} s" for row in steps)
                       + f"; total {cpu / 60:.1f} min (all processes)")
    verdict = rg and rg["summary"]["mismatches"] == 0 and rg["summary"]["cycle_differences"] == 0
    out.append(bar)
    out.append("BIT-EXACT: hardware = model on every image run" if verdict else
               "NOT VERIFIED: see the regression report" if rg else "no regression report")
    print("\n".join(out))
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
