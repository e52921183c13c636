"""One validation of a network's shape, for every stage: checkpoint loading, export, the
artifact reader and the hardware generator all call :func:`validate_network`.

What can be represented (docs/numerics.md, "Neuron", "Convolution", "Pooling"): a weight
layer of ``fan_in`` binary (+-1) inputs has a potential V in [-fan_in, fan_in] and fires
when V >= theta, so a threshold must be an integer with 1 <= theta <= fan_in (theta < 1
would fire with no input at all, a theta above fan_in can never fire); the decision needs
at least 2 output neurons. Layer kinds: ``dense`` (fan-in = its input width), ``conv``
(C_in x K x K kernels of +-1, stride S, zero padding P; fan-in C_in * K * K) and ``pool``
(earliest spike of each K x K window, stride K; no weights, no threshold). A layer is
described by a dict (checkpoints' ``layers``, the schema-2 manifest's ``layers``)::

    {"kind": "conv", "in_shape": [C, H, W], "out_shape": [C_out, H_out, W_out],
     "kernel": K, "stride": S, "pad": P}
    {"kind": "pool", "in_shape": [C, H, W], "out_shape": [C, H // K, W // K], "kernel": K}
    {"kind": "dense", "in_shape": [N_in], "out_shape": [N_out]}

Maps are flattened in C order (channel, row, column) before the first dense layer; after
a dense layer only dense layers follow, and the last layer is dense (the decision reads it).
"""
from __future__ import annotations

import math

from .errors import UsageError

MODES = ("binary",)
LAYER_KINDS = ("dense", "conv", "pool")
WEIGHT_KINDS = ("dense", "conv")


class NetworkError(UsageError):
    """A network that cannot be represented; the message names the field."""


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def conv_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Output size along one spatial dimension: floor((size + 2P - K) / S) + 1."""
    return (size + 2 * pad - kernel) // stride + 1


def layer_out_shape(kind: str, in_shape, units: int = 0, kernel: int = 0, stride: int = 1,
                    pad: int = 0) -> tuple[int, ...]:
    """The output shape of a layer: ``units`` = output channels (conv) or neurons (dense)."""
    if kind == "dense":
        return (units,)
    c, h, w = in_shape
    if kind == "conv":
        return (units, conv_size(h, kernel, stride, pad), conv_size(w, kernel, stride, pad))
    return (c, h // kernel, w // kernel)


def fan_in(layer: dict) -> int:
    """Inputs of one neuron: C_in * K * K (conv), the input width (dense), 0 (pool)."""
    if layer["kind"] == "conv":
        return int(layer["in_shape"][0]) * int(layer["kernel"]) ** 2
    return int(layer["in_shape"][0]) if layer["kind"] == "dense" else 0


def _shape(x, rank: int | None) -> bool:
    return (isinstance(x, (list, tuple)) and (rank is None or len(x) == rank)
            and len(x) >= 1 and all(_is_int(v) and v >= 1 for v in x))


def check_layers(layers, n_inputs: int, where: str = "network") -> list[dict]:
    """Validate layer dicts (kinds, shapes, chaining, geometry); returns them with tuple
    shapes. An unknown kind is refused by name. Raises NetworkError naming the field."""
    if not isinstance(layers, (list, tuple)) or not layers:
        raise NetworkError(f"{where}: layers {layers!r} is not a non-empty list of layers")
    out, prev, dense_seen = [], None, False
    for l, lay in enumerate(layers):
        at = f"{where}: layers[{l}]"
        if not isinstance(lay, dict):
            raise NetworkError(f"{at} is {lay!r}, expected an object")
        kind = lay.get("kind")
        if kind not in LAYER_KINDS:
            raise NetworkError(f"{at}: unknown layer kind {kind!r} (known: "
                               f"{', '.join(LAYER_KINDS)})")
        rank = 1 if kind == "dense" else 3
        ins, outs = lay.get("in_shape"), lay.get("out_shape")
        if not _shape(ins, rank if l else None) or not _shape(outs, rank):
            raise NetworkError(f"{at} ({kind}): in_shape {ins!r} / out_shape {outs!r} must be "
                               f"lists of {rank} positive integers")
        ins, outs = tuple(ins), tuple(outs)
        flat_in = math.prod(ins)
        if (prev is None and flat_in != n_inputs) or (prev is not None and (
                ins != prev if kind != "dense" else flat_in != math.prod(prev))):
            raise NetworkError(f"{at} ({kind}): in_shape {list(ins)} does not follow "
                               f"{list(prev) if prev else n_inputs}")
        if kind == "dense":
            if len(ins) != 1:
                ins = (flat_in,)
            want = (outs[0],)
            geo = {}
        else:
            if dense_seen or len(ins) != 3:
                raise NetworkError(f"{at} ({kind}): needs a (C, H, W) map; no {kind} layer "
                                   "after a dense layer")
            k = lay.get("kernel")
            s = lay.get("stride", 1) if kind == "conv" else k
            p = lay.get("pad", 0) if kind == "conv" else 0
            if not (_is_int(k) and _is_int(s) and _is_int(p) and k >= 1 and s >= 1
                    and 0 <= p < k and k <= min(ins[1:]) + 2 * p):
                raise NetworkError(f"{at} ({kind}): kernel {k!r} stride {s!r} pad {p!r} do not "
                                   f"fit the {list(ins)} map (1 <= K <= size + 2P, 0 <= P < K)")
            want = layer_out_shape(kind, ins, outs[0], k, s, p)
            geo = {"kernel": k, "stride": s, "pad": p} if kind == "conv" else {"kernel": k}
        if outs != want:
            raise NetworkError(f"{at} ({kind}): out_shape {list(outs)}, the geometry gives "
                               f"{list(want)}")
        dense_seen |= kind == "dense"
        out.append({"kind": kind, "in_shape": ins, "out_shape": outs, **geo})
        prev = outs
    if out[-1]["kind"] != "dense":
        raise NetworkError(f"{where}: the last layer is {out[-1]['kind']}; it must be dense "
                           "(the decision reads its neurons)")
    return out


def layer_widths(layers: list[dict]) -> list[int]:
    """Flattened sizes: the input, then every layer's output."""
    return [math.prod(layers[0]["in_shape"])] + [math.prod(x["out_shape"]) for x in layers]


def validate_network(widths, thetas, mode: str = "binary", kinds=None, *,
                     where: str = "network", modes=MODES, layers=None
                     ) -> tuple[list[int], list[int]]:
    """Check widths, thresholds, mode and layers; return (widths, thetas) as int lists.

    ``layers``: layer dicts (see the module docstring); None means dense layers only, whose
    ``kinds`` (if given) must all be "dense". ``thetas`` has one entry per weight layer
    (conv or dense). ``where`` prefixes every message (a file name); ``modes`` lists the
    accepted modes (checkpoints also allow "real", whose thresholds are not integer-checked
    against fan-in). Raises NetworkError naming the field.
    """
    if mode not in modes:
        raise NetworkError(f"{where}: mode {mode!r} is not one of {', '.join(modes)}")
    if (not isinstance(widths, (list, tuple)) or len(widths) < 2
            or not all(_is_int(w) and w >= 1 for w in widths)):
        raise NetworkError(f"{where}: widths {widths!r} must be >= 2 positive integers")
    if widths[-1] < 2:
        raise NetworkError(f"{where}: widths {list(widths)}: the output layer needs at "
                           "least 2 neurons to decide between")
    if layers is None:
        if kinds is not None:
            bad = [k for k in kinds if k != "dense"]
            if len(kinds) != len(widths) - 1 or bad:
                raise NetworkError(f"{where}: layer kinds {list(kinds)!r}: expected "
                                   f"{len(widths) - 1} of dense (give conv and pool layers "
                                   "as layer descriptions)")
        fans = list(widths[:-1])
    else:
        checked = check_layers(layers, widths[0], where)
        if layer_widths(checked) != list(widths):
            raise NetworkError(f"{where}: widths {list(widths)} disagree with the layers' "
                               f"sizes {layer_widths(checked)}")
        fans = [fan_in(x) for x in checked if x["kind"] in WEIGHT_KINDS]
    n = len(fans)
    if (not isinstance(thetas, (list, tuple)) or len(thetas) != n
            or not all(_is_int(t) for t in thetas)):
        raise NetworkError(f"{where}: theta {thetas!r} must be {n} integers (one per "
                           "weight layer)")
    if mode == "binary":
        for l, (fi, theta) in enumerate(zip(fans, thetas)):
            if not 1 <= theta <= fi:
                raise NetworkError(f"{where}: theta[{l}] = {theta} must be in 1..{fi} "
                                   f"(fan-in of weight layer {l}; a larger theta can never fire)")
    return [int(w) for w in widths], [int(t) for t in thetas]
