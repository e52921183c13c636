"""Network architectures: the ``--arch`` SPEC, layer shapes, and the layer descriptions that
checkpoints and artifact manifests carry (docs/numerics.md, "Convolution", "Pooling").

SPEC is a comma-separated list of layers applied to the (1, 28, 28) input map:
``conv<C>k<K>[s<S>][p<P>]`` (C output channels, K x K kernels, stride S, zero padding P),
``pool<K>`` (earliest spike of each K x K window, stride K) and ``fc<N>`` (dense, N
neurons; the map is flattened in C order before the first one). Example:
``conv16k5,pool2,conv32k5,pool2,fc10``. The last layer is dense.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from contract.network import NetworkError, WEIGHT_KINDS, check_layers, layer_out_shape

INPUT_SHAPE = (1, 28, 28)
TOKEN = re.compile(r"conv(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?|pool(\d+)|fc(\d+)")


@dataclass(frozen=True)
class Layer:
    """One layer: kind ("conv", "pool", "dense"), input and output shapes, and the
    geometry (kernel size K, stride S, padding P; pool: stride K, no padding)."""
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    kernel: int = 0
    stride: int = 1
    pad: int = 0

    @property
    def n_in(self) -> int:
        return math.prod(self.in_shape)

    @property
    def n_out(self) -> int:
        return math.prod(self.out_shape)

    @property
    def has_weights(self) -> bool:
        return self.kind in WEIGHT_KINDS

    @property
    def fan_in(self) -> int:
        """Inputs of one neuron (bounds |V|): C_in * K * K, or the input width."""
        return self.in_shape[0] * self.kernel ** 2 if self.kind == "conv" else self.n_in

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """Kernels (C_out, C_in, K, K) or a dense matrix (N_out, N_in)."""
        if self.kind == "conv":
            return (self.out_shape[0], self.in_shape[0], self.kernel, self.kernel)
        return (self.n_out, self.n_in)

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "in_shape": list(self.in_shape),
             "out_shape": list(self.out_shape)}
        if self.kind == "conv":
            d.update(kernel=self.kernel, stride=self.stride, pad=self.pad)
        elif self.kind == "pool":
            d["kernel"] = self.kernel
        return d


def from_dicts(layers, n_inputs: int, where: str = "network") -> list[Layer]:
    """Layers from their descriptions (validated by contract.network.check_layers)."""
    out = []
    for d in check_layers(layers, n_inputs, where):
        k = d.get("kernel", 0)
        out.append(Layer(d["kind"], tuple(d["in_shape"]) if d["kind"] != "dense"
                         else (math.prod(d["in_shape"]),), tuple(d["out_shape"]), k,
                         d.get("stride", k if d["kind"] == "pool" else 1), d.get("pad", 0)))
    return out


def to_dicts(arch: list[Layer]) -> list[dict]:
    return [x.to_dict() for x in arch]


def dense_arch(widths) -> list[Layer]:
    """Dense layers of the given widths (input first)."""
    return [Layer("dense", (int(a),), (int(b),)) for a, b in zip(widths[:-1], widths[1:])]


def parse_arch(spec: str, in_shape=INPUT_SHAPE, where: str = "--arch") -> list[Layer]:
    """The layers of SPEC; NetworkError naming the token or the misfit."""
    shape, dicts = tuple(in_shape), []
    for tok in [t.strip() for t in spec.split(",")]:
        m = TOKEN.fullmatch(tok)
        if not m:
            raise NetworkError(f"{where} {spec}: {tok!r} is not conv<C>k<K>[s<S>][p<P>], "
                               "pool<K> or fc<N>")
        c, k, s, p, pk, n = (int(g) if g else None for g in m.groups())
        if n is not None:
            d = {"kind": "dense", "in_shape": [math.prod(shape)], "out_shape": [n]}
        elif len(shape) != 3:
            raise NetworkError(f"{where} {spec}: {tok!r} after a dense layer (conv and pool "
                               "need a map)")
        elif c is not None:
            s, p = s or 1, p or 0
            geo = {"kernel": k, "stride": s, "pad": p}
            d = {"kind": "conv", "in_shape": list(shape),
                 "out_shape": list(layer_out_shape("conv", shape, c, k, s, p)), **geo}
        else:
            d = {"kind": "pool", "in_shape": list(shape), "kernel": pk,
                 "out_shape": list(layer_out_shape("pool", shape, kernel=max(pk, 1)))}
        if min(d["out_shape"]) < 1:
            raise NetworkError(f"{where} {spec}: {tok!r} leaves an empty map from "
                               f"{list(shape)}")
        dicts.append(d)
        shape = tuple(d["out_shape"])
    return from_dicts(dicts, math.prod(in_shape), where=f"{where} {spec}")


def widths_of(arch: list[Layer]) -> list[int]:
    """Flattened sizes: the input, then every layer's output."""
    return [arch[0].n_in] + [x.n_out for x in arch]


def weight_layers(arch: list[Layer]) -> list[Layer]:
    return [x for x in arch if x.has_weights]


def is_dense(arch: list[Layer]) -> bool:
    return all(x.kind == "dense" for x in arch)


def spec_of(arch: list[Layer]) -> str:
    """The SPEC string of an architecture (inverse of parse_arch)."""
    out = []
    for x in arch:
        if x.kind == "conv":
            out.append(f"conv{x.out_shape[0]}k{x.kernel}" + (f"s{x.stride}" if x.stride != 1
                                                             else "")
                       + (f"p{x.pad}" if x.pad else ""))
        else:
            out.append(f"pool{x.kernel}" if x.kind == "pool" else f"fc{x.n_out}")
    return ",".join(out)
