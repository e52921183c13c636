"""How many ensemble members fit a board? (hdl/ensemble.py; estimates as hdl/fit.py's)

    python -m hdl.ensemble_fit artifacts/bayes5
    python -m hdl.ensemble_fit artifacts/bayes5/sample0 --board arty --lanes 150

Every member is a whole core with its own weight ROMs and an image FIFO (one entry per input),
so an ensemble of M costs M times a member, plus the board's event and result buffers once
(the result buffer M results wide). The members' first-layer counters are in logic (no DSP
lanes, which one member alone would take). Block RAM, flip-flops and DSP slices are hard
limits; the LUT figure is an estimate (hdl/fit.py: within about 5-10 % of Yosys).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from amaranth.lib import data

from contract.artifacts import load_artifacts, sample_dirs
from contract.cli import Parser, command
from contract.errors import UsageError
from .boards import BOARDS, board_core_params
from .core_options import add_core_arguments, core_kwargs
from .fit import bram_blocks, dense_resources
from .network import event_layout, index_bits, result_layout

__all__ = ["member_cost", "members_that_fit"]

BUFFERS = ("event buffer", "result buffer")
BOARD_TOP_LUTS = 1500       # hdl/fit.py's allowance for the board top, counted once
MAX_MEMBERS = 64


def _event_bits(art) -> int:
    return data.Layout.cast(event_layout(int(art.widths[0]))).size


def member_cost(art, params, board) -> dict:
    """One member's block RAMs (weights and its image FIFO), LUTs, FFs and DSP slices."""
    if "conv" in (getattr(art, "kinds", None) or ()):
        from .conv_fit import _blocks, conv_resources
        r = conv_resources(art, params, board, 1, 1)
        brams = sum(n * _blocks(board.family, d, w) for what, d, w, n in r["mems"]
                    if what not in BUFFERS)
        dsps = 0
    else:
        r = dense_resources(art, params, board, 1, 1)
        brams = sum(m[-1] for m in r["mems"] if m[0] not in BUFFERS)
        dsps = r["dsps"]
    ev_bits = _event_bits(art)
    fifo = bram_blocks(board.family, int(art.widths[0]), ev_bits, 1, True)
    return {"brams": brams + fifo, "luts": r["luts"] - BOARD_TOP_LUTS,
            "ffs": r["ffs"] + 2 * ev_bits, "dsps": dsps}


def ensemble_cost(art, one: dict, board, m: int) -> dict:
    """M members of cost ``one`` (``member_cost``) and the board's buffers, the result
    buffer as wide as the ensemble's result (hdl/ensemble.py)."""
    n_out = int(art.widths[-1])
    res_bits = (index_bits(n_out) + m.bit_length() + 32
                + m * data.Layout.cast(result_layout(n_out)).size)
    buffers = (bram_blocks(board.family, board.event_capacity, _event_bits(art), 1, True)
               + bram_blocks(board.family, board.image_capacity, res_bits, 1, True))
    return {"brams": m * one["brams"] + buffers, "luts": m * one["luts"] + BOARD_TOP_LUTS,
            "ffs": m * one["ffs"], "dsps": m * one["dsps"]}


def members_that_fit(art, one: dict, board) -> tuple[int, int, str]:
    """(M by block RAM / FF / DSP, M also within the LUT estimate, what limits the first)
    for members of cost ``one`` (``member_cost``)."""
    hard = soft = 0
    limit = "-"
    for m in range(1, MAX_MEMBERS + 1):
        c = ensemble_cost(art, one, board, m)
        over = [what for what, need, have in (("block RAM", c["brams"], board.brams),
                                              ("flip-flops", c["ffs"], board.ffs),
                                              ("DSP", c["dsps"], board.dsps)) if need > have]
        if over:
            limit = over[0]
            break
        hard = m
        if c["luts"] <= board.luts:
            soft = m
    return hard, soft, limit


def board_params(board, art, given: dict) -> dict:
    """The board's core parameters for a member, the first-layer counters in logic."""
    params = board_core_params(board, art, given)
    if "dsp_neurons" not in given:
        params["dsp_neurons"] = 0
    return params


@command
def main(argv=None) -> int:
    ap = Parser(prog="python -m hdl.ensemble_fit", description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifacts", type=Path,
                    help="a member's artifact directory, or one holding sample<k> exports")
    ap.add_argument("--board", choices=sorted(BOARDS), action="append", default=None,
                    help="board(s) to check (default: all)")
    add_core_arguments(ap, suppress=True)
    args = ap.parse_args(argv)
    path, samples = args.artifacts, sample_dirs(args.artifacts)
    if not (path / "manifest.json").exists() and samples:
        path = samples[0]
    if not path.is_dir():
        raise UsageError(f"{args.artifacts}: no such artifact directory")
    art = load_artifacts(path)
    given = core_kwargs(args)
    print(f"network {'-'.join(map(str, art.widths))}: members of an ensemble that fit "
          "(hdl/ensemble.py, estimates)")
    print(f"  {'board':11s} {'member: BRAM':>13s} {'LUT':>8s} {'FF':>8s}   {'members':>7s} "
          f"{'(LUT est.)':>10s}  limit")
    for name in args.board or sorted(BOARDS):
        board = BOARDS[name]
        params = board_params(board, art, given)
        one = member_cost(art, params, board)
        hard, soft, limit = members_that_fit(art, one, board)
        print(f"  {name:11s} {one['brams']:>8g} {board.bram_kind:4s} {one['luts']:>8d} "
              f"{one['ffs']:>8d}   {hard:>7d} {soft:>10d}  {limit}  (lanes "
              f"{params.get('lanes') or 'all'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
