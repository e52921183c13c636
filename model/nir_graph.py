"""The mapping between a checkpoint's network and a NIR graph (docs/nir.md), export side.

A dense layer is a ``Linear`` node of +-1 weights, a conv layer a ``Conv2d`` node (zero
bias, dilation 1, one group), each followed by an ``IF`` node of per-neuron arrays: r = 1,
v_threshold = theta - 0.5 (NIR fires on v > v_threshold, the project on the integer
V >= theta) and v_reset = -2 * fan-in, below every potential a neuron can reach, so that
after its one spike it never fires again (docs/numerics.md, "Neuron"). A pooling layer
(earliest spike of each window, docs/numerics.md, "Pooling") is a ``SumPool2d`` node (kernel
= stride = K, no padding) followed by an ``IF`` of threshold 0.5: it fires at the first
spike that reaches its window. A ``Flatten`` node (C order) stands before the first dense
layer of a map. The checkpoint's metadata and ``fact`` ride along as JSON in the graph's
metadata (``META_KEY``), so that an import restores them.

The ``nir`` package is an optional extra (``pip install -e .[nir]``); ``require_nir``
imports it or raises a UsageError saying how to install it.
"""
from __future__ import annotations

import json

import numpy as np

from contract.errors import UsageError

from .arch import Layer
from .checkpoint import Checkpoint

META_KEY = "bs4nn_checkpoint"        # graph metadata: JSON {"meta": ..., "fact": [...]}
POOL_THRESHOLD = 0.5                 # a SumPool2d + IF with it fires on the first spike


def require_nir():
    """The ``nir`` module, or a UsageError naming the extra to install."""
    try:
        import nir
    except ImportError as exc:
        raise UsageError(f"the NIR commands need the 'nir' package ({exc}): "
                         "pip install -e '.[nir]'") from exc
    return nir


def if_params(theta: int, fan_in: int, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Per-neuron IF arrays of a layer of integer threshold ``theta`` (fires on V >= theta,
    at most once)."""
    full = lambda v: np.full(shape, v, np.float64)                      # noqa: E731
    return {"r": full(1.0), "v_threshold": full(theta - 0.5), "v_reset": full(-2.0 * fan_in)}


def layer_nodes(nir, layer: Layer, weight: np.ndarray | None, theta: int | None) -> list:
    """The NIR nodes of one layer: the synapses (or the pool), then the IF neurons."""
    if layer.kind == "pool":
        k = layer.kernel
        pool = nir.SumPool2d(kernel_size=np.array([k, k]), stride=np.array([k, k]),
                             padding=np.array([0, 0]))
        p = if_params(1, k * k, layer.out_shape)
        p["v_threshold"][...] = POOL_THRESHOLD
        return [pool, nir.IF(**p)]
    w = np.asarray(weight, np.float32)
    if layer.kind == "conv":
        syn = nir.Conv2d(input_shape=tuple(layer.in_shape[1:]), weight=w,
                         stride=(layer.stride, layer.stride), padding=(layer.pad, layer.pad),
                         dilation=(1, 1), groups=1, bias=np.zeros(layer.out_shape[0], np.float32))
    else:
        syn = nir.Linear(weight=w)
    return [syn, nir.IF(**if_params(theta, layer.fan_in, layer.out_shape))]


def node_names(arch: list[Layer]) -> list[list[str]]:
    """Per layer, the names of its nodes: ``linear_<l>``/``conv_<l>``/``sumpool_<l>`` and
    ``if_<l>`` (l counts all layers), with ``flatten_<l>`` before the first dense layer
    that follows a map."""
    out = []
    for l, x in enumerate(arch):
        syn = {"dense": "linear", "conv": "conv", "pool": "sumpool"}[x.kind]
        flat = [f"flatten_{l}"] if x.kind == "dense" and l and arch[l - 1].kind != "dense" else []
        out.append(flat + [f"{syn}_{l}", f"if_{l}"])
    return out


def checkpoint_to_graph(ck: Checkpoint):
    """The NIR graph of a binary checkpoint (its ``binary_weights``, ``thetas``, ``arch``)."""
    nir = require_nir()
    arch = ck.arch
    weights, thetas = iter(ck.binary_weights), iter(ck.thetas)
    in_shape = arch[0].in_shape
    nodes = {"input": nir.Input(input_type={"input": np.array(in_shape)})}
    for x, names in zip(arch, node_names(arch)):
        layer = layer_nodes(nir, x, *(next(weights), next(thetas)) if x.has_weights
                            else (None, None))
        if names[0].startswith("flatten"):
            layer = [nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=0,
                                 end_dim=-1)] + layer
        nodes.update(zip(names, layer))
        in_shape = x.out_shape
    nodes["output"] = nir.Output(output_type={"output": np.array(arch[-1].out_shape)})
    names = list(nodes)
    record = {"meta": ck.meta, "fact": [float(f) for f in np.asarray(ck.fact)]}
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])),
                        metadata={META_KEY: json.dumps(record, sort_keys=True)})
