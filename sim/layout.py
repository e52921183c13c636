"""The core's stream payloads as flat bit fields, so the bench can pack and unpack them.

Amaranth flattens a stream port to `<name>__payload` / `__valid` / `__ready`, the payload a
single vector laid out by the struct (first field at bit 0). `port_layouts(core)` reads those
layouts from the component's signature (the one source of truth) and returns plain JSON,
which is what the cocotb process receives: it never needs to build the core itself.
"""
from __future__ import annotations

from amaranth.lib import data

from hdl.network import payload_layout

STREAMS = ("i_event", "o_result", "o_spike")


def _fields(shape, prefix="", base=0) -> dict[str, list[int]]:
    """Flatten a (nested) data layout into {"name": [offset, width]}; arrays as name[k]."""
    out = {}
    if isinstance(shape, data.StructLayout):
        for name, f in shape:
            out.update(_fields(f.shape, f"{prefix}{name}", base + f.offset)
                       if isinstance(f.shape, data.Layout) else
                       {f"{prefix}{name}": [base + f.offset, f.width]})
    elif isinstance(shape, data.ArrayLayout):
        ew = data.Layout.cast(shape.elem_shape).size if isinstance(shape.elem_shape, data.Layout) \
            else shape.elem_shape.width if hasattr(shape.elem_shape, "width") else int(shape.elem_shape)
        for k in range(shape.length):
            name = f"{prefix}[{k}]"
            if isinstance(shape.elem_shape, data.Layout):
                out.update(_fields(shape.elem_shape, name, base + k * ew))
            else:
                out[name] = [base + k * ew, ew]
    else:
        raise TypeError(f"unsupported payload layout {shape!r}")
    return out


def port_layouts(core) -> dict:
    """{"i_event": {"width": W, "fields": {...}}, "o_result": ..., "o_spike": ...}."""
    out = {}
    for name in STREAMS:
        layout = payload_layout(core, name)
        out[name] = {"width": layout.size, "fields": _fields(layout)}
    return out


class Unpacker:
    """Turns a payload integer into a dict of field values (arrays as lists)."""

    def __init__(self, fields: dict[str, list[int]]):
        self.scalars, arrays = {}, {}
        for name, (off, w) in fields.items():
            if "[" in name:
                base, k = name[:-1].split("[")
                arrays.setdefault(base, []).append((int(k), off, w))
            else:
                self.scalars[name] = (off, (1 << w) - 1)
        self.arrays = {b: [(off, (1 << w) - 1) for _, off, w in sorted(v)] for b, v in arrays.items()}

    def __call__(self, x: int) -> dict:
        d = {n: (x >> off) & m for n, (off, m) in self.scalars.items()}
        d.update({n: [(x >> off) & m for off, m in v] for n, v in self.arrays.items()})
        return d


def pack(fields: dict[str, list[int]], **values) -> int:
    x = 0
    for name, v in values.items():
        off, w = fields[name]
        if not 0 <= v < (1 << w):
            raise ValueError(f"field {name}: value {v} does not fit {w} bits")
        x |= v << off
    return x
