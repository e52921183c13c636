"""What the core is built from (``CoreNetwork``) and the payload layouts of its streams.

Numerics: docs/numerics.md, "Neuron" and "Export convention"; ROM format: docs/artifacts.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from amaranth.hdl import Shape, unsigned
from amaranth.lib import data

from contract.artifacts import MANIFEST
from contract.errors import ArtifactError
from contract.network import validate_network
from contract.rom import acc_bits, weights_to_words

__all__ = ["CoreNetwork", "index_bits", "event_layout", "result_layout", "spike_layout",
           "payload_layout"]


@dataclass(frozen=True)
class CoreNetwork:
    """Layer widths, thresholds, ROM words and accumulator widths per weight layer.

    ``words[l][i]`` is the fan-out row of input i of weight layer l (bit j = weight to
    neuron j is +1), exactly the artifact ROM format (docs/artifacts.md). ``acc_bits[l]``
    is the artifacts' signed width of layer l's potential V (|V| <= fan-in).

    ``runtime``: only the shape (widths) is built in; weights and thresholds are loaded at
    run time (``hdl/weight_loader.py``), so every width that depends on a threshold covers
    all of 1 .. fan-in + 1, and ``words`` / ``thetas`` are not used by the hardware.
    """
    widths: tuple[int, ...]
    thetas: tuple[int, ...]
    words: tuple[tuple[int, ...], ...]
    acc_bits: tuple[int, ...]
    runtime: bool = False

    @classmethod
    def from_artifacts(cls, art) -> "CoreNetwork":
        """From anything with ``widths``, ``thetas``, ``acc_bits`` and ``rom_words(l)``
        (``contract.artifacts.Artifacts``). The core runs dense layers only."""
        other = [k for k in getattr(art, "kinds", None) or () if k != "dense"]
        if other:
            raise ArtifactError(f"{MANIFEST}: layer kind {other[0]!r}: the hardware core runs "
                                "dense layers only (schema-1 artifacts)")
        widths = [int(w) for w in art.widths]
        return cls.build(widths, [int(t) for t in art.thetas],
                         [art.rom_words(l) for l in range(len(widths) - 1)],
                         [int(b) for b in art.acc_bits])

    @classmethod
    def from_weights(cls, weights, thetas) -> "CoreNetwork":
        """From (fan_out, fan_in) +-1 matrices (for tests and benchmarks)."""
        words, widths = [], []
        for l, w in enumerate(weights):
            w = np.asarray(w)
            if w.ndim != 2 or not np.isin(w, (-1, 1)).all():
                raise ValueError(f"weights[{l}]: expected a 2-D matrix of +-1, got shape {w.shape}")
            if not widths:
                widths.append(w.shape[1])
            widths.append(w.shape[0])
            words.append(weights_to_words(w))
        return cls.build(widths, [int(t) for t in thetas], words)

    @classmethod
    def build(cls, widths, thetas, words, bits=None) -> "CoreNetwork":
        """Validate and freeze; ``bits``: accumulator widths (default: ``contract.rom.acc_bits``
        of each fan-in).

        Thresholds and widths go through ``contract.network.validate_network``, so the core
        refuses exactly the networks that export refuses (1 <= theta <= fan-in).
        """
        if len(widths) < 3:
            raise ValueError(f"widths {widths}: the core needs at least 2 weight layers")
        if len(thetas) != len(widths) - 1 or len(words) != len(widths) - 1:
            raise ValueError(f"{len(widths) - 1} weight layers but {len(thetas)} thresholds "
                             f"and {len(words)} ROMs")
        validate_network(list(widths), list(thetas), where="core network (widths, thresholds)")
        for l, ws in enumerate(words):
            if len(ws) != widths[l]:
                raise ValueError(f"layer {l} ROM: {len(ws)} words, fan-in is {widths[l]}")
            for i, x in enumerate(ws):
                if not 0 <= x < (1 << widths[l + 1]):
                    raise ValueError(f"layer {l} ROM word {i} does not fit {widths[l + 1]} bits")
        if bits is None:
            bits = [acc_bits(f) for f in widths[:-1]]
        if len(bits) != len(widths) - 1:
            raise ValueError(f"{len(widths) - 1} weight layers but {len(bits)} acc_bits")
        return cls(tuple(widths), tuple(thetas), tuple(tuple(w) for w in words), tuple(bits))

    def for_runtime(self) -> "CoreNetwork":
        """The same shape with runtime-loaded weights and thresholds."""
        return replace(self, runtime=True)

    @property
    def n_layers(self) -> int:
        return len(self.widths) - 1

    def theta(self, l: int) -> int:
        """Layer l's threshold (1 .. fan-in, checked by ``build``)."""
        return self.thetas[l]

    def potential_shape(self, l: int) -> Shape:
        """Signed shape of V - theta for every reachable V (|V| <= fan-in) of layer l (and,
        ``runtime``, every threshold 1 .. fan-in + 1)."""
        f = self.widths[l]
        if self.runtime:
            return Shape.cast(range(-2 * f - 1, f))
        th = self.theta(l)
        return Shape.cast(range(-f - th, f - th + 1))

    def minus_inputs(self, l: int, k: int) -> list[int]:
        """Inputs i of layer l whose weight to neuron k is -1."""
        return [i for i, x in enumerate(self.words[l]) if not (x >> k) & 1]


def index_bits(n: int) -> int:
    """Bits of an unsigned index in 0..n-1 (at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def event_layout(n_in: int, events_per_cycle: int = 1) -> data.StructLayout:
    """One beat of ``i_event``: ``time``, ``addr``, ``last``; with K = ``events_per_cycle``
    > 1 also ``more_addr`` (K - 1 addresses) and ``more_valid`` (bit j: slot j + 1 carries
    an event; the valid slots come first). Every event of a beat has step ``time``."""
    a = unsigned(index_bits(n_in))
    fields = {"time": unsigned(8), "addr": a, "last": unsigned(1)}
    if events_per_cycle > 1:
        fields.update(more_addr=data.ArrayLayout(a, events_per_cycle - 1),
                      more_valid=unsigned(events_per_cycle - 1))
    return data.StructLayout(fields)


def result_layout(n_out: int) -> data.StructLayout:
    return data.StructLayout({
        "label": unsigned(index_bits(n_out)), "step": unsigned(8), "tie": unsigned(1),
        "no_spike": unsigned(1), "cycles": unsigned(32),
        "times": data.ArrayLayout(unsigned(9), n_out)})


def spike_layout(n_layers: int, max_width: int) -> data.StructLayout:
    return data.StructLayout({"layer": unsigned(index_bits(n_layers)),
                              "neuron": unsigned(index_bits(max_width)), "time": unsigned(9)})


def payload_layout(component, port: str) -> data.Layout:
    """The payload layout of stream port ``port`` of ``component``, from its signature."""
    return data.Layout.cast(component.signature.members[port].signature.members["payload"].shape)
