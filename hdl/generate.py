"""Write the core as plain Verilog for other flows.

    python -m hdl.generate ARTIFACT_DIR --out core.v [--lanes N] [--tree-inputs N] [--no-debug-port]

The Verilog carries the layer-0 ROM contents itself. Ports (Amaranth naming):
``clk``, ``rst``, ``i_event__{valid,ready,payload}``, ``o_result__{valid,ready,payload}``,
``o_spike__{valid,ready,payload}``, ``full``, ``debug``; payload bit layouts are printed.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import data

from .core import BS4NNCore, CoreNetwork


def payload_fields(core: BS4NNCore, port: str) -> list[tuple[str, int, int]]:
    """[(field, lsb, width)] of a stream port's flattened payload (first field at bit 0)."""
    layout = data.Layout.cast(core.signature.members[port].signature.members["payload"].shape)
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hdl.generate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifacts", help="artifact directory (docs/artifacts.md)")
    ap.add_argument("--out", required=True, help="Verilog file to write")
    ap.add_argument("--lanes", type=int, default=None,
                    help="first-layer neurons per cycle (default: all, full parallelism)")
    ap.add_argument("--tree-inputs", type=int, default=None,
                    help="deeper layers integrate this many inputs per cycle (default: all)")
    ap.add_argument("--no-debug-port", action="store_true",
                    help="leave out the o_spike logic (smaller; o_spike never valid)")
    ap.add_argument("--name", default="bs4nn_core", help="Verilog module name")
    args = ap.parse_args(argv)

    from export.artifacts import load_artifacts
    art = load_artifacts(args.artifacts)
    core = BS4NNCore(CoreNetwork.from_artifacts(art), lanes=args.lanes,
                     tree_inputs=args.tree_inputs, debug_port=not args.no_debug_port)
    print(f"core {'-'.join(map(str, core.net.widths))}, thetas {list(core.net.thetas)}, "
          f"lanes {core.lanes} ({core.groups} ROM reads per event), "
          f"tree_inputs {core.tree_inputs or 'all'}", file=sys.stderr)
    text = verilog.convert(core, name=args.name)
    out = Path(args.out)
    fd, tmp = tempfile.mkstemp(dir=out.parent if str(out.parent) else ".", suffix=".v.tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, out)
    print(describe(core), file=sys.stderr)
    print(f"wrote {out} ({len(text) // 1024} KiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
