"""Regression of a hardware ensemble: M networks on every image, each member and the vote.

    python -m sim.ensemble artifacts/bayes5 --members 3 --simulator verilator --images 1000
    python -m sim.ensemble DIR0 DIR1 DIR2 --simulator icarus --images 50 --mode full

The members are the artifact directories named, or DIR/sample0 .. DIR/sample<M-1> of one
directory written by ``python -m export.weights CKPT --samples M`` (docs/artifacts.md). The
ensemble core (hdl/ensemble.py) is built from them and run on the golden vectors of the
test set (the members share it) and the stress cases, as ``python -m sim.regress`` runs one
core: a fast pass per image (every member's decision, output times and cycle count against
its golden vectors and cycle model; the vote against the majority of the members' model
decisions; the ensemble's cycle count) and a debug pass on every --debug-every'th image
(every spike of every member). Exit status 1 on any mismatch.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from contract.artifacts import load_artifacts, sample_dirs
from contract.cli import Parser, command
from contract.errors import UsageError
from contract.files import atomic_path, check_output_file
from hdl.core_options import add_core_arguments, core_cli_args, core_kwargs
from sim.build import Bench
from sim.regress import _stats, select_images

def member_dirs(paths: list[Path], members: int | None) -> list[Path]:
    """The members' artifact directories: ``paths`` themselves, or one directory's
    sample<k> folders (the first ``members`` of them)."""
    if len(paths) == 1 and not (paths[0] / "manifest.json").exists():
        d = paths[0]
        if not d.is_dir():
            raise UsageError(f"{d}: no such artifact directory")
        paths = sample_dirs(d)
        if not paths:
            raise UsageError(f"{d}: neither an artifact directory nor one holding sample<k> "
                             "exports (python -m export.weights CKPT --samples M)")
    if members is not None:
        if not 1 <= members <= len(paths):
            raise UsageError(f"--members {members}: expected 1..{len(paths)} (the members found)")
        paths = paths[:members]
    return paths


class EnsembleBench(Bench):
    """A ``Bench`` of the ensemble of the artifact directories ``members``."""

    test_module = "sim.ensemble_bench"

    def __init__(self, members, simulator: str = "icarus", core_params: dict | None = None,
                 **kw):
        self.member_paths = [Path(p).resolve() for p in members]
        self.member_arts = [load_artifacts(p) for p in self.member_paths]
        widths = {tuple(a.widths) for a in self.member_arts}
        if len(widths) != 1:
            raise UsageError(f"ensemble members have different shapes: {sorted(widths)}")
        counts = {a.manifest["vectors"]["vectors"]["count"] for a in self.member_arts}
        if len(counts) != 1:
            raise UsageError(f"ensemble members have different golden vector counts: {sorted(counts)}")
        self.spike_sources = len(self.member_arts)
        super().__init__(self.member_paths[0], simulator, core_params, **kw)

    def _network_id(self) -> bytes:
        ids = [self._art_id(a).decode() for a in self.member_arts]
        return json.dumps(["ensemble", ids]).encode()

    def _make_core(self):
        from hdl.ensemble import EnsembleCore
        return EnsembleCore(self.member_arts, **self.core_params)

    def _write_verilog(self, core, path: Path) -> None:
        from amaranth.back import verilog
        with atomic_path(path, suffix=".v") as tmp:
            tmp.write_text(verilog.convert(core, name="bs4nn_ensemble"))

    def _job_extra(self) -> dict:
        return {"members": [str(p) for p in self.member_paths]}

    def recipe(self) -> dict:
        raise NotImplementedError("ensemble benches run on this machine only (no --scheduler)")


def summarise(report: dict, arts) -> dict:
    recs = report["records"]
    vr = [r for r in recs if r["set"] == "vectors"]
    idx = np.array([r["index"] for r in vr], np.int64)
    labels = arts[0].vectors["labels"][idx].astype(np.int64)
    hw = np.array([r.get("label", -1) for r in vr], np.int64)
    model = np.array([r["model_vote"] for r in vr], np.int64)
    cycles = [r["cycles_fast"] for r in vr if "cycles_fast" in r]
    pred = [(r["cycles_fast"], r["cycles_predicted"]) for r in recs if "cycles_predicted" in r]
    members = [float((arts[j].vectors["label"][idx] == labels).mean()) for j in range(len(arts))]
    wall = float(report["wall_s"])
    return {"members": len(arts), "images": len(recs), "vector_images": len(vr),
            "vote_ties": int(sum(r["model_votes"] * 2 <= len(arts) for r in vr)),
            "mismatches": sum(not r["ok"] for r in recs),
            "cycle_differences": sum(not r["cycles_ok"] for r in recs),
            "debug_pass_images": sum("cycles_debug" in r for r in recs),
            "debug_spikes_checked": int(sum(m.get("n_spikes", 0) for r in recs for m in r["members"])),
            "hw_vote_strict_accuracy": float((hw == labels).mean()) if len(vr) else None,
            "model_vote_strict_accuracy": float((model == labels).mean()) if len(vr) else None,
            "member_model_strict_accuracy": members,
            "cycles_fast_per_image": _stats(cycles),
            "cycle_model_agrees": f"{sum(a == b for a, b in pred)}/{len(pred)}" if pred else "n/a",
            "sim_cycles": int(report["sim_cycles"]), "bench_wall_s": wall}


def format_summary(s: dict, simulator: str, mode: str) -> str:
    c = s["cycles_fast_per_image"]
    lines = [f"ensemble of {s['members']} members, simulator {simulator}, {mode} mode: "
             f"{s['images']} test images ({s['vote_ties']} without a majority), debug pass "
             f"(every spike of every member) on {s['debug_pass_images']}",
             f"mismatches: {s['mismatches']}   cycle-count differences: {s['cycle_differences']}   "
             f"cycle model agrees on {s['cycle_model_agrees']}"]
    if s["hw_vote_strict_accuracy"] is not None:
        lines.append(f"hardware vote strict accuracy {s['hw_vote_strict_accuracy']:.4f} (model "
                     f"vote {s['model_vote_strict_accuracy']:.4f}; members' model "
                     f"{', '.join(f'{a:.4f}' for a in s['member_model_strict_accuracy'])})")
    if c:
        lines.append(f"ensemble cycles per image: mean {c['mean']:.1f}  p50 {c['p50']:.0f}  "
                     f"p99 {c['p99']:.0f}  max {c['max']}")
    lines.append(f"simulated {s['sim_cycles']} cycles in {s['bench_wall_s']:.1f} s "
                 f"(debug spikes checked: {s['debug_spikes_checked']})")
    return "\n".join(lines)


@command
def main(argv=None) -> int:
    ap = Parser(prog="python -m sim.ensemble", description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifacts", nargs="+", type=Path,
                    help="the members' artifact directories, or one holding sample<k> exports")
    ap.add_argument("--members", type=int, default=None, metavar="M",
                    help="use the first M members (default: all)")
    ap.add_argument("--simulator", choices=("icarus", "verilator"), default="verilator")
    ap.add_argument("--images", type=int, default=None, metavar="N",
                    help="first N golden test vectors (default: all)")
    ap.add_argument("--mode", choices=("early", "full"), default="early")
    ap.add_argument("--debug-every", type=int, default=1, metavar="K",
                    help="the debug pass on every K-th image only (default 1: all)")
    ap.add_argument("--random-every", type=int, default=10, metavar="K",
                    help="random idle cycles/back-pressure in every K-th debug pass (0: never)")
    ap.add_argument("--jobs", type=int, default=1, metavar="N",
                    help="simulator processes at once (default 1)")
    ap.add_argument("--json", type=Path, default=None, metavar="REPORT",
                    help="write the summary and per-image records here")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    add_core_arguments(ap, debug_port=False)
    args = ap.parse_args(argv)
    for flag, value, ok in (("--images", args.images, args.images is None or args.images >= 1),
                            ("--debug-every", args.debug_every, args.debug_every >= 1),
                            ("--random-every", args.random_every, args.random_every >= 0),
                            ("--jobs", args.jobs, args.jobs >= 1)):
        if not ok:
            raise UsageError(f"{flag} {value}: out of range")
    if args.json is not None:
        check_output_file(args.json, "--json")
    params = core_kwargs(args)
    dirs = member_dirs(args.artifacts, args.members)
    t0 = time.perf_counter()
    bench = EnsembleBench(dirs, simulator=args.simulator, core_params=params)
    t_build = time.perf_counter() - t0
    images = select_images(bench.art, args.images, False, (0, 1))   # stress: one network's
    report = bench.run(images, mode=args.mode, random_every=args.random_every,
                       debug_every=args.debug_every, progress=not args.quiet, jobs=args.jobs)
    s = summarise(report, bench.member_arts)
    s.update({"core_params": params, "build_s": t_build, "members_dirs": [str(d) for d in dirs],
              "total_wall_s": time.perf_counter() - t0})
    bad = [r for r in report["records"] if not r["ok"]]
    for r in bad[:10]:
        for m in (r.get("messages") or [m for x in r["members"] for m in x.get("messages", [])])[:8]:
            print(m)
    print(f"members: {', '.join(map(str, dirs))}; core parameters "
          f"{core_cli_args(params) or 'default'}")
    print(format_summary(s, args.simulator, args.mode))
    print(f"wall {s['total_wall_s']:.1f} s (build/generate {t_build:.1f} s)")
    if args.json:
        cmd = "python -m sim.ensemble " + shlex.join(argv if argv is not None else sys.argv[1:])
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps({
                "command": cmd, "summary": s,
                "mismatches": [{"set": r["set"], "index": r["index"], "messages": r.get("messages")
                                or [m for x in r["members"] for m in x.get("messages", [])]}
                               for r in bad],
                "records": report["records"]}, indent=1))
    failed = bool(bad) or len(report["records"]) < len(images)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
