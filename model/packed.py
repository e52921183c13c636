"""Packed checkpoints: the binary weights as bits, for inference and export only.

A packed checkpoint is the same ``.npz`` schema as a full one (model/checkpoint.py: ``fact``
and the ``meta`` JSON with every field of the checkpoint it was made from: dataset, config,
history, validation and test figures, thresholds, ``layers`` / ``arch``) with metadata
``format`` = ``bs4nn-packed/1``; the latent real weights are replaced by one uint8 array
``bits_<l>`` per weight layer l:

* the layer's weights in C order (dense (N_out, N_in), conv (C_out, C_in, K, K)), flat index
  k, are bit ``k % 8`` (value ``2 ** (k % 8)``) of byte ``k // 8`` (``np.packbits(...,
  bitorder="little")``); bit 1 = weight +1 (latent >= 0), bit 0 = weight -1; the padding
  bits of the last byte are 0;
* ``meta["packed"]`` records the bit order, each layer's shape and the sha256 of its bytes,
  the source checkpoint's format and sha256, and the training command.

Loading one gives latent arrays of +-1.0 (float32), so ``binary_weights`` equal those of the
source checkpoint; the latent magnitudes and the optimizer state are gone, so a packed
checkpoint cannot continue training. Only binary networks of one set of weights are packed
(not ``mode`` "real", not a ``--rule bayes`` distribution).
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

PACKED_FORMAT = "bs4nn-packed/1"
BIT_ORDER = ("flat C-order index k of the layer's weight array is bit k % 8 (value 2^(k % 8)) "
             "of byte k // 8 (np.packbits bitorder='little'); padding bits are 0")
BIT_MEANING = {"1": 1, "0": -1}


def pack_layer(w: np.ndarray) -> np.ndarray:
    """The bits of one layer's latent weights (w >= 0 -> 1), packed little-endian."""
    return np.packbits(np.asarray(w).ravel() >= 0, bitorder="little")


def packed_arrays(latent: list[np.ndarray]) -> tuple[dict[str, np.ndarray], list[dict]]:
    """``{"bits_<l>": uint8}`` and the per-layer records (shape, bytes, sha256)."""
    arrays, records = {}, []
    for l, w in enumerate(latent):
        bits = pack_layer(w)
        arrays[f"bits_{l}"] = bits
        records.append({"array": f"bits_{l}", "shape": list(np.shape(w)), "bytes": bits.size,
                        "sha256": hashlib.sha256(bits.tobytes()).hexdigest()})
    return arrays, records


def unpack_layer(bits: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """+-1.0 float32 weights of ``shape`` from their packed bits."""
    n = math.prod(shape)
    b = np.unpackbits(bits, count=n, bitorder="little").reshape(shape).astype(np.float32)
    return b + b - np.float32(1)


def check_bits(name: str, bits, shape: tuple[int, ...], record) -> None:
    """ValueError naming what is wrong with one layer's packed array."""
    n = math.prod(shape)
    want = (n + 7) // 8
    if not isinstance(bits, np.ndarray) or bits.dtype != np.uint8 or bits.shape != (want,):
        raise ValueError(f"{name} is {getattr(bits, 'dtype', '?')} of shape "
                         f"{getattr(bits, 'shape', '?')}, expected uint8 of shape ({want},) "
                         f"for weights {tuple(shape)}")
    if n % 8 and bits[-1] >> (n % 8):
        raise ValueError(f"{name}: padding bits of the last byte are not 0 (corrupt file)")
    recorded = record.get("shape") if isinstance(record, dict) else None
    if not isinstance(recorded, list) or recorded != list(shape):
        raise ValueError(f"metadata 'packed' layer {name}: shape {recorded!r}, the network's "
                         f"weights are {tuple(shape)}")
    if hashlib.sha256(bits.tobytes()).hexdigest() != record.get("sha256"):
        raise ValueError(f"{name} does not match the sha256 its metadata records (corrupt file)")


def read_packed(arrays: dict, meta: dict, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """The +-1.0 latent arrays of a packed checkpoint whose metadata is already validated;
    ValueError naming the first inconsistency."""
    if meta.get("mode", "binary") != "binary":
        raise ValueError(f"a packed checkpoint holds binary weights; metadata mode "
                         f"{meta.get('mode')!r}")
    if meta.get("distribution"):
        raise ValueError("a packed checkpoint holds one network; its metadata describes a "
                         "distribution")
    info = meta.get("packed")
    records = info.get("layers") if isinstance(info, dict) else None
    if not isinstance(records, list) or len(records) != len(shapes):
        raise ValueError(f"metadata 'packed' must list {len(shapes)} layers (the weight "
                         "layers)")
    if info.get("bit_order") != BIT_ORDER:
        raise ValueError(f"metadata 'packed' bit_order {info.get('bit_order')!r} is not "
                         f"this reader's ({BIT_ORDER!r})")
    latent = []
    for l, (shape, record) in enumerate(zip(shapes, records)):
        name = f"bits_{l}"
        if name not in arrays:
            raise ValueError(f"missing array {name!r}")
        check_bits(name, arrays[name], shape, record)
        latent.append(unpack_layer(arrays[name], shape))
    return latent
