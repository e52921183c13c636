"""The core's build parameters on the command line, one definition for every tool.

``python -m hdl.generate``, ``python -m sim.regress``, ``python -m hdl.build`` and the
benchmarks take the same options and pass them to ``BS4NNCore`` as keyword arguments.
"""
from __future__ import annotations

import argparse

__all__ = ["add_core_arguments", "core_kwargs", "core_cli_args", "describe_params"]

# Keyword -> (default, command-line flag).
_PARAMS = {
    "lanes": (None, "--lanes"),
    "tree_levels": (4, "--tree-levels"),
    "tree_counter": (3, "--tree-counter"),
    "rom_reg": (True, "--no-rom-reg"),
    "dsp_neurons": (0, "--dsp-neurons"),
    "debug_port": (True, "--no-debug-port"),
    "runtime_weights": (False, "--runtime-weights"),
    "events_per_cycle": (1, "--events-per-cycle"),
}


def add_core_arguments(ap: argparse.ArgumentParser, *, debug_port: bool = True,
                       suppress: bool = False) -> None:
    """Add the core options to ``ap``. ``suppress``: options not given stay out of the
    parsed namespace (the caller has defaults of its own, e.g. per board)."""
    d = {k: v for k, (v, _) in _PARAMS.items()}
    if suppress:
        d = {k: argparse.SUPPRESS for k in d}
    g = ap.add_argument_group("core parameters (docs/core.md)")
    g.add_argument("--lanes", type=int, default=d["lanes"],
                   help="first-layer neurons updated per cycle (default: all, full parallelism)")
    g.add_argument("--tree-levels", type=int, default=d["tree_levels"] or 0, metavar="N",
                   help="adder levels per pipeline stage in the deeper layers' trees "
                        "(0 = no intermediate registers; default 4)")
    g.add_argument("--tree-counter", type=int, choices=(3, 6), default=d["tree_counter"],
                   help="tree compressors: 3 = full adders (4-input LUTs), 6 = 6:3 counters "
                        "(6-input LUTs); default 3")
    g.add_argument("--no-rom-reg", dest="rom_reg", action="store_false", default=d["rom_reg"],
                   help="no register stage after the weight ROM")
    g.add_argument("--dsp-neurons", type=int, default=d["dsp_neurons"], metavar="N",
                   help="first-layer counters in Xilinx DSP48E1 SIMD lanes (multiple of 4; "
                        "default 0)")
    g.add_argument("--runtime-weights", action="store_true", default=d["runtime_weights"],
                   help="weights and thresholds loaded at run time through i_load (one build "
                        "per network shape; docs/core.md)")
    g.add_argument("--events-per-cycle", type=int, default=d["events_per_cycle"], metavar="K",
                   help="input events per i_event beat: K weight-ROM read ports, first-layer "
                        "counters stepping by -K..+K (default 1)")
    if debug_port:
        g.add_argument("--no-debug-port", dest="debug_port", action="store_false",
                       default=d["debug_port"], help="leave out the o_spike logic")


def core_kwargs(args: argparse.Namespace) -> dict:
    """BS4NNCore keyword arguments from parsed options (only those the parser has)."""
    kw = {}
    for k in _PARAMS:
        if hasattr(args, k):
            kw[k] = getattr(args, k)
    if "tree_levels" in kw:
        kw["tree_levels"] = kw["tree_levels"] or None
    return kw


def core_cli_args(kwargs: dict) -> list[str]:
    """The command-line options that reproduce ``kwargs`` (the inverse of core_kwargs)."""
    out = []
    for k, v in sorted(kwargs.items()):
        default, flag = _PARAMS[k]
        if v == default:
            continue
        if isinstance(default, bool):
            out.append(flag)                           # a switch: "--no-..." or "--runtime-weights"
        else:
            out += [flag, str(0 if v is None else v)]
    return out


def describe_params(core) -> str:
    """One line naming a built core's parameters."""
    k = core.events_per_cycle
    return (f"lanes {core.lanes} ({core.groups} ROM reads per "
            f"{'event' if k == 1 else f'beat of up to {k} events'}), tree_levels "
            f"{core.tree_levels}, tree_counter {core.tree_counter}, rom_reg {int(core.rom_reg)}, "
            f"dsp_neurons {core.dsp_neurons}, debug_port {int(core.debug_port)}"
            + (f", {k} events per cycle" if k > 1 else "")
            + (", runtime weights" if core.runtime_weights else ""))
