"""What the convolutional core is built from (``ConvNetwork``): its event stages and dense tail.

A conv network (docs/numerics.md, "Convolution", "Pooling"; docs/artifacts.md, "Schema 2") is
run as a chain of *event stages*, each a conv layer and the pooling layer after it (if any),
then the dense layers. ``ConvNetwork.from_artifacts`` accepts the layer lists
``(conv [pool])+ dense+`` with stride-1 convolutions and pooling windows no larger than the
kernel (docs/core.md, "Convolutional layers"), and refuses anything else by name.
"""
from __future__ import annotations

from dataclasses import dataclass

from contract.artifacts import MANIFEST
from contract.errors import ArtifactError
from contract.rom import acc_bits

from .accumulators import counter_shape
from .network import CoreNetwork

__all__ = ["ConvStage", "ConvNetwork"]


@dataclass(frozen=True)
class ConvStage:
    """One conv layer and its pooling (``pool`` = 1: none).

    ``words``: the artifact kernel ROM, word f = (c_in * K + ky) * K + kx, bit c = weight of
    output channel c (1 = +1). ``conv_index`` / ``pool_index``: the layers' positions in the
    artifacts' layer list (the spike reports' ``layer``; ``pool_index`` None without pooling).
    """
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: int
    pad: int
    theta: int
    words: tuple[int, ...]
    pool: int
    conv_index: int
    pool_index: int | None

    @property
    def fan_in(self) -> int:
        return self.in_shape[0] * self.kernel ** 2

    @property
    def pooled_shape(self) -> tuple[int, int, int]:
        """The stage's output map: the pooled map, or the conv map without pooling."""
        c, h, w = self.out_shape
        return (c, h // self.pool, w // self.pool)

    def weight(self, c: int, c_in: int, ky: int, kx: int) -> int:
        """1 when kernel weight (c, c_in, ky, kx) is +1, else 0."""
        k = self.kernel
        return (self.words[(c_in * k + ky) * k + kx] >> c) & 1


@dataclass(frozen=True)
class ConvNetwork:
    """Event stages, then the dense tail (a ``CoreNetwork`` of the dense layers alone).

    ``widths`` / ``thetas`` are the artifacts' (every layer, pooling included; None thetas
    for pooling), ``shapes`` each layer's output shape.
    """
    stages: tuple[ConvStage, ...]
    tail: CoreNetwork
    widths: tuple[int, ...]
    thetas: tuple
    shapes: tuple[tuple[int, ...], ...]

    @property
    def n_layers(self) -> int:
        """Layers of the artifacts, pooling included (the spike reports' layer numbers)."""
        return len(self.widths) - 1

    @property
    def first_dense(self) -> int:
        """Index of the first dense layer in the artifacts' layer list."""
        return self.n_layers - self.tail.n_layers

    @classmethod
    def from_artifacts(cls, art) -> "ConvNetwork":
        """From a schema-2 ``contract.artifacts.Artifacts`` whose layers are
        ``(conv [pool])+ dense+``; ArtifactError naming the first layer that does not fit."""
        layers, kinds = art.layers, art.kinds
        stages, l = [], 0
        while l < len(kinds) and kinds[l] == "conv":
            lay = layers[l]
            where = f"{MANIFEST}: layers[{l}] (conv)"
            if int(lay.get("stride", 1)) != 1:
                raise ArtifactError(f"{where}: stride {lay['stride']}: the conv core runs "
                                    "stride 1 only")
            k = int(lay["kernel"])
            pool, pool_index = 1, None
            if l + 1 < len(kinds) and kinds[l + 1] == "pool":
                pool, pool_index = int(layers[l + 1]["kernel"]), l + 1
                if pool > k:
                    raise ArtifactError(f"{MANIFEST}: layers[{l + 1}] (pool): window {pool} is "
                                        f"wider than the conv kernel {k} before it (the core "
                                        "reads a pooling window from distinct memory banks)")
            theta = int(art.thetas[l])
            fan_in = int(lay["in_shape"][0]) * k * k
            counter_shape(fan_in, theta)                       # 1 <= theta <= fan-in
            if int(art.acc_bits[l]) != acc_bits(fan_in):
                raise ArtifactError(f"{where}: acc_bits {art.acc_bits[l]} != {acc_bits(fan_in)}")
            stages.append(ConvStage(tuple(lay["in_shape"]), tuple(lay["out_shape"]), k,
                                    int(lay["pad"]), theta, tuple(art.rom_words(l)), pool, l,
                                    pool_index))
            l += 1 + (pool_index is not None)
        if not stages:
            raise ArtifactError(f"{MANIFEST}: layers[0] is {kinds[0]!r}: the conv core needs a "
                                "conv layer first (dense networks: hdl/core.py)")
        rest = kinds[l:]
        if not rest or any(k != "dense" for k in rest):
            bad = next((i for i in range(l, len(kinds)) if kinds[i] != "dense"), l)
            raise ArtifactError(f"{MANIFEST}: layers[{bad}] is "
                                f"{kinds[bad] if bad < len(kinds) else 'missing'!r}: the conv "
                                "core runs (conv [pool])+ then dense layers")
        widths = [int(w) for w in art.widths]
        tail = CoreNetwork(tuple(widths[l:]), tuple(int(t) for t in art.thetas[l:]),
                           tuple(tuple(art.rom_words(i)) for i in range(l, len(kinds))),
                           tuple(int(b) for b in art.acc_bits[l:]))
        for i, t in enumerate(tail.thetas):
            if not 1 <= t <= tail.widths[i]:
                raise ArtifactError(f"{MANIFEST}: layers[{l + i}] (dense): theta {t} outside "
                                    f"1..{tail.widths[i]}")
        return cls(tuple(stages), tail, tuple(widths), tuple(art.thetas),
                   tuple(tuple(x["out_shape"]) for x in layers))
