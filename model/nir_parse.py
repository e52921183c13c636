"""A NIR graph -> the project's layers, weights and thresholds (docs/nir.md, "Import").

The graph must be one chain from its ``Input`` to its ``Output`` of: ``Linear`` (or
``Affine`` of zero bias) or ``Conv2d`` (zero bias, dilation 1, one group, square kernel,
equal strides and paddings) followed by an ``IF``; ``SumPool2d`` (kernel = stride, no
padding) followed by an ``IF`` that fires on the first spike of its window (the project's
earliest-spike pooling); ``Flatten`` of a whole map. Anything else is refused by the node's
name and type. An IF's threshold becomes the integer theta = floor(v_threshold / r) + 1
(NIR fires on r * V > v_threshold, V the integer sum of +-1 weights); one layer has one
theta. Weights other than +-1 are binarized (w >= 0 -> +1, docs/numerics.md, "Export
convention") with a NirWarning, and so is a reset that would let a neuron fire twice.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from contract.errors import InputError
from contract.network import layer_out_shape

from .checkpoint import binarize

SUPPORTED = "Input, Output, Linear, Affine (zero bias), Conv2d, IF, SumPool2d + IF, Flatten"


class NirError(InputError, ValueError):
    """A NIR graph the project cannot represent; the message names the node."""


class NirWarning(UserWarning):
    """An imported graph was changed to fit the project (binarized weights, a reset)."""


@dataclass
class Parsed:
    layers: list[dict]             # contract.network layer dicts
    weights: list[np.ndarray]      # per weight layer, +-1 float32
    thetas: list[int]


def chain(graph) -> list[str]:
    """Node names from the one Input to the one Output, every node on that path."""
    kinds = {k: type(n).__name__ for k, n in graph.nodes.items()}
    for k, kind in kinds.items():
        if kind not in ("Input", "Output", "Linear", "Affine", "Conv2d", "IF", "SumPool2d",
                        "Flatten"):
            raise NirError(f"node {k!r} is a NIR {kind}: not supported (supported: "
                           f"{SUPPORTED})")
    ins = [k for k, kind in kinds.items() if kind == "Input"]
    outs = [k for k, kind in kinds.items() if kind == "Output"]
    if len(ins) != 1 or len(outs) != 1:
        raise NirError(f"the graph has {len(ins)} Input and {len(outs)} Output nodes; "
                       "expected one of each")
    succ: dict[str, str] = {}
    for a, b in graph.edges:
        if a in succ:
            raise NirError(f"node {a!r} feeds both {succ[a]!r} and {b!r}; only a chain "
                           "of layers is supported")
        succ[a] = b
    path = [ins[0]]
    while path[-1] in succ and len(path) <= len(kinds):
        path.append(succ[path[-1]])
    if path[-1] != outs[0] or len(path) != len(kinds):
        off = sorted(set(kinds) - set(path)) or path[-1:]
        raise NirError(f"node {off[0]!r} is not on the one path from {ins[0]!r} to "
                       f"{outs[0]!r}")
    return path


def as_array(node, field: str, name: str) -> np.ndarray:
    a = np.asarray(getattr(node, field), np.float64)
    if not np.isfinite(a).all():
        raise NirError(f"node {name!r}: {field} holds non-finite values")
    return a


def signs(w: np.ndarray, name: str) -> np.ndarray:
    """+-1 weights; others binarized by the export convention, with a NirWarning."""
    if not np.isin(w, (-1.0, 1.0)).all():
        warnings.warn(f"node {name!r}: {np.size(w) - np.isin(w, (-1.0, 1.0)).sum()} of "
                      f"{np.size(w)} weights are not +-1; binarized (w >= 0 -> +1)",
                      NirWarning, stacklevel=2)
    return binarize(w).astype(np.float32)


def one_pair(v: np.ndarray, name: str, field: str) -> int:
    """The one value of a (K, K)-style pair (an int, or equal entries)."""
    v = np.ravel(v)
    if v.size not in (1, 2) or v.min() != v.max() or v[0] != int(v[0]):
        raise NirError(f"node {name!r}: {field} {v.tolist()} must be one integer for both "
                       "dimensions")
    return int(v[0])


def per_neuron(node, field: str, name: str, shape: tuple) -> np.ndarray:
    """An IF parameter as one value per neuron (a scalar is broadcast)."""
    a = as_array(node, field, name)
    if a.size != 1 and a.size != math.prod(shape):
        raise NirError(f"node {name!r}: {field} has shape {list(a.shape)}, the layer has "
                       f"{list(shape)} neurons")
    return np.broadcast_to(a.reshape(-1) if a.size == 1 else a.reshape(shape), shape)


def neuron_theta(node, name: str, shape: tuple, fan_in: int, pool: bool) -> int:
    """The integer threshold of an IF node (pooling: it must fire on the first spike)."""
    r, thr, reset = (per_neuron(node, f, name, shape) for f in ("r", "v_threshold", "v_reset"))
    if (r <= 0).any():
        raise NirError(f"node {name!r}: r must be > 0 (a negative or zero resistance "
                       "inverts or blocks the input)")
    theta = np.floor(thr / r).astype(np.int64) + 1
    lo, hi = int(theta.min()), int(theta.max())
    if pool and not lo == hi == 1:
        raise NirError(f"node {name!r}: v_threshold / r outside [0, 1) after a SumPool2d "
                       "fires on other than the first spike of a window; the project pools "
                       "the earliest spike")
    if lo != hi:
        raise NirError(f"node {name!r}: thresholds give theta {lo}..{hi}; the project has "
                       "one threshold per layer")
    if not 1 <= lo <= fan_in:
        raise NirError(f"node {name!r}: theta {lo} (floor(v_threshold / r) + 1) must be in "
                       f"1..{fan_in} (the fan-in; otherwise it fires with no input or never)")
    if (reset / r + fan_in - lo > thr / r).any():
        warnings.warn(f"node {name!r}: v_reset lets a neuron fire again; the project's "
                      "neuron fires at most once (later spikes are dropped)",
                      NirWarning, stacklevel=2)
    return lo


def synapse_layer(node, name: str, shape: tuple) -> tuple[dict, np.ndarray | None]:
    """The layer dict of a Linear/Affine/Conv2d/SumPool2d node on a map of ``shape``."""
    kind = type(node).__name__
    if kind in ("Linear", "Affine"):
        if kind == "Affine" and np.any(as_array(node, "bias", name)):
            raise NirError(f"node {name!r}: Affine with a non-zero bias; the project's "
                           "neurons have none")
        w = as_array(node, "weight", name)
        if w.ndim != 2 or len(shape) != 1 or w.shape[1] != shape[0]:
            raise NirError(f"node {name!r}: weight {list(w.shape)} does not take the "
                           f"{list(shape)} input (a Flatten must come first)")
        return {"kind": "dense", "in_shape": list(shape), "out_shape": [w.shape[0]]}, w
    if len(shape) != 3:
        raise NirError(f"node {name!r}: {kind} needs a (C, H, W) map, gets {list(shape)}")
    if kind == "SumPool2d":
        k = one_pair(node.kernel_size, name, "kernel_size")
        if one_pair(node.stride, name, "stride") != k or one_pair(node.padding, name,
                                                                    "padding") != 0:
            raise NirError(f"node {name!r}: SumPool2d with stride != kernel or padding; the "
                           "project pools K x K windows with stride K, no padding")
        return {"kind": "pool", "in_shape": list(shape), "kernel": k,
                "out_shape": list(layer_out_shape("pool", shape, kernel=k))}, None
    w = as_array(node, "weight", name)
    if np.any(as_array(node, "bias", name)) or int(node.groups) != 1 or \
            one_pair(node.dilation, name, "dilation") != 1:
        raise NirError(f"node {name!r}: Conv2d with a bias, groups or dilation; the project's "
                       "convolution has none")
    k = w.shape[-1] if w.ndim == 4 and w.shape[-1] == w.shape[-2] else 0
    if not k or w.shape[1] != shape[0]:
        raise NirError(f"node {name!r}: weight {list(w.shape)} is not (C_out, {shape[0]}, "
                       "K, K)")
    s, pad = one_pair(node.stride, name, "stride"), node.padding
    if isinstance(pad, str):
        if pad == "same" and (s != 1 or k % 2 == 0):
            raise NirError(f"node {name!r}: padding 'same' with stride {s} and kernel {k} is "
                           "not symmetric; the project pads P on every side")
        pad = 0 if pad == "valid" else (k - 1) // 2
    p = one_pair(pad, name, "padding")
    return {"kind": "conv", "in_shape": list(shape), "kernel": k, "stride": s, "pad": p,
            "out_shape": list(layer_out_shape("conv", shape, w.shape[0], k, s, p))}, w


def parse_graph(graph) -> Parsed:
    """The layers, +-1 weights and thresholds of a NIR graph; NirError naming the node."""
    path = chain(graph)
    shape = tuple(int(v) for v in np.ravel(graph.nodes[path[0]].input_type["input"]))
    layers, weights, thetas = [], [], []
    i = 1
    while i < len(path) - 1:
        name, node = path[i], graph.nodes[path[i]]
        kind = type(node).__name__
        if kind == "Flatten":
            shape, i = (math.prod(shape),), i + 1
            continue
        if kind == "IF":
            raise NirError(f"node {name!r}: an IF without synapses before it")
        nxt = path[i + 1]
        if type(graph.nodes[nxt]).__name__ != "IF":
            raise NirError(f"node {name!r} ({kind}) is not followed by an IF neuron "
                           f"(it feeds {nxt!r})")
        lay, w = synapse_layer(node, name, shape)
        if lay["kind"] == "pool":
            neuron_theta(graph.nodes[nxt], nxt, tuple(lay["out_shape"]), lay["kernel"] ** 2,
                         pool=True)
        else:
            fan = w.shape[1] * w.shape[2] * w.shape[3] if w.ndim == 4 else w.shape[1]
            thetas.append(neuron_theta(graph.nodes[nxt], nxt, tuple(lay["out_shape"]), fan,
                                       pool=False))
            weights.append(signs(w, name))
        layers.append(lay)
        shape, i = tuple(lay["out_shape"]), i + 2
    if not layers:
        raise NirError("the graph has no layer between its Input and Output")
    return Parsed(layers, weights, thetas)
