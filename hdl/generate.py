"""Write the core as plain Verilog for other flows.

    python -m hdl.generate ARTIFACT_DIR --out core.v [--lanes N] [--tree-levels N]
        [--tree-counter {3,6}] [--no-rom-reg] [--dsp-neurons N] [--no-debug-port]

The Verilog carries the layer-0 ROM contents itself. Ports (Amaranth naming):
``clk``, ``rst``, ``i_event__{valid,ready,payload}``, ``o_result__{valid,ready,payload}``,
``o_spike__{valid,ready,payload}``, ``full``, ``debug``; payload bit layouts are printed,
and the pipeline timing (for hdl/cycle_model.py) goes to ``--timing FILE`` if asked.
With ``--dsp-neurons`` the Verilog instantiates Xilinx ``DSP48E1`` primitives.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import data

from contract.artifacts import load_artifacts
from contract.cli import Parser, command
from contract.errors import UsageError
from contract.files import atomic_path, check_output_file
from .conv_core import make_core
from .core import BS4NNCore
from .core_options import add_core_arguments, core_kwargs, describe_params
from .network import payload_layout


def payload_fields(core: BS4NNCore, port: str) -> list[tuple[str, int, int]]:
    """[(field, lsb, width)] of a stream port's flattened payload (first field at bit 0)."""
    layout = payload_layout(core, port)
    out = []
    for name, f in layout:
        if isinstance(f.shape, data.ArrayLayout):
            ew = data.Layout.cast(f.shape).size // f.shape.length
            out += [(f"{name}[{k}]", f.offset + k * ew, ew) for k in range(f.shape.length)]
        else:
            out.append((name, f.offset, f.width))
    return out


def describe(core: BS4NNCore) -> str:
    lines = []
    for port in ("i_event", "o_result", "o_spike"):
        fields = payload_fields(core, port)
        width = max(lsb + w for _, lsb, w in fields)
        parts = [f"{n}[{lsb + w - 1}:{lsb}]" if w > 1 else f"{n}[{lsb}]" for n, lsb, w in fields]
        lines.append(f"{port}__payload ({width} bits): " + ", ".join(parts))
    return "\n".join(lines)


def check_outputs(artifacts: Path, outputs: dict[str, Path | None]) -> None:
    """Refuse, before generating, an output that is a folder, unwritable, or inside the
    artifact directory (writing there would break its manifest)."""
    art = artifacts.resolve()
    for what, path in outputs.items():
        if path is None:
            continue
        check_output_file(path, what)
        if art in path.absolute().resolve().parents:
            raise UsageError(f"{what} {path}: is inside the artifact directory {artifacts}; "
                             "write it elsewhere")


@command
def main(argv=None) -> int:
    ap = Parser(prog="python -m hdl.generate", description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifacts", help="artifact directory (docs/artifacts.md)")
    ap.add_argument("--out", required=True, help="Verilog file to write")
    ap.add_argument("--name", default="bs4nn_core", help="Verilog module name")
    ap.add_argument("--timing", type=Path, default=None, metavar="FILE",
                    help="also write the core's pipeline timing as JSON (hdl/cycle_model.py)")
    add_core_arguments(ap)
    args = ap.parse_args(argv)

    out = Path(args.out)
    check_outputs(Path(args.artifacts), {"--out": out, "--timing": args.timing})
    core = make_core(load_artifacts(args.artifacts), **core_kwargs(args))
    print(f"core {'-'.join(map(str, core.net.widths))}, thetas {list(core.net.thetas)}, "
          f"{describe_params(core)}", file=sys.stderr)
    text = verilog.convert(core, name=args.name)
    with atomic_path(out, suffix=".v") as tmp:
        tmp.write_text(text)
    print(describe(core), file=sys.stderr)
    if args.timing is not None:
        with atomic_path(args.timing) as tmp:
            tmp.write_text(json.dumps(core.timing) + "\n")
    print(f"wrote {out} ({len(text) // 1024} KiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
