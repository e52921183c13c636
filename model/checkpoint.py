"""One self-describing checkpoint file: ``.npz`` arrays plus embedded JSON metadata.

Arrays: ``latent_<l>`` float32 real-valued weights for each weight layer l, (N_l, N_{l-1})
for a dense layer, (C_out, C_in, K, K) for a conv layer (the forward pass uses their signs:
w >= 0 -> +1, w < 0 -> -1), ``fact`` (L,) float64. Metadata (``meta`` JSON): format, widths
(flattened sizes: the input, then every layer), thr, theta (integer thresholds, one per
weight layer), mode ("binary" or "real"), encoding, training config, dataset and its file
checksums, the validation / test figures, and for a network with conv or pool layers
``layers`` (one description per layer, contract.network) and ``arch`` (its SPEC). Writes
are atomic. Loading checks the network with contract.network.validate_network (thresholds,
output width, mode, optional layer ``kinds`` or ``layers``).

``load_checkpoint`` also reads packed checkpoints (format ``bs4nn-packed/1``, model/packed.py:
the binary weights as bits, made by ``python -m model.pack``): their latent arrays are the
weights' signs, +-1.0, for inference and export only.
"""
from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from contract.errors import InputError
from contract.files import atomic_path, sha256_file
from contract.network import NetworkError, validate_network
from contract.numerics import SILENT, T

from .arch import Layer, dense_arch, from_dicts, widths_of
from .packed import PACKED_FORMAT, read_packed

FORMAT = "bs4nn-checkpoint/1"
ENCODING = {"T": T, "silent": SILENT, "rule": "s = 255 - p (pixel intensity p in 0..255)"}
MODES = ("binary", "real")


class CheckpointError(InputError, RuntimeError):
    """A checkpoint is unreadable, truncated, or internally inconsistent."""


def binarize(w: np.ndarray) -> np.ndarray:
    """w >= 0 -> +1, w < 0 -> -1 (docs/numerics.md, "Export convention")."""
    b = (np.asarray(w) >= 0).view(np.int8)        # 0 / 1; bool arithmetic beats np.where
    return b + b - np.int8(1)


def theta_from_fact(thr: float, fact: float) -> int:
    """V > thr / fact for integer V is V >= floor(thr / fact) + 1."""
    return int(np.floor(thr / fact)) + 1


@dataclass
class Checkpoint:
    latent: list[np.ndarray]
    fact: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def arch(self) -> list[Layer]:
        """The layers: ``meta["layers"]``, else dense layers of the latent matrices' shapes."""
        if self.meta.get("layers"):
            return from_dicts(self.meta["layers"], math.prod(self.meta["layers"][0]["in_shape"]))
        return dense_arch([self.latent[0].shape[1]] + [w.shape[0] for w in self.latent])

    @property
    def conv_arch(self) -> list[Layer] | None:
        """``arch`` when the network has conv or pool layers, else None (dense)."""
        return self.arch if self.meta.get("layers") else None

    @property
    def widths(self) -> list[int]:
        return widths_of(self.arch)

    @property
    def thetas(self) -> list[int]:
        return [int(t) for t in self.meta["theta"]]

    @property
    def packed(self) -> bool:
        """True for a packed checkpoint (latent arrays are +-1: inference and export only)."""
        return self.meta.get("format") == PACKED_FORMAT

    @property
    def binary_weights(self) -> list[np.ndarray]:
        return [binarize(w) for w in self.latent]

    def save(self, path: str | Path) -> str:
        """Write atomically; returns the file's sha256."""
        meta = {k: v for k, v in self.meta.items() if k != "packed"}     # a full file now
        meta.update(format=FORMAT, widths=self.widths, encoding=ENCODING)
        arrays = {f"latent_{l}": np.asarray(w, np.float32) for l, w in enumerate(self.latent)}
        arrays["fact"] = np.asarray(self.fact, np.float64)
        arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, **arrays)
        self.meta = meta
        return sha256_file(path)


def read_npz(path: Path, what: str, what_file: str) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``; a missing or unreadable file raises
    CheckpointError ("no such <what_file>", "not a readable <what>")."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {what_file}")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"{path}: not a readable {what} ({exc})") from exc


def read_latent(path: Path, arrays: dict, shapes: list[tuple], source: str) -> list[np.ndarray]:
    """The ``latent_<l>`` arrays of a full checkpoint, checked against the metadata's shapes
    (``source`` names the field they come from)."""
    latent = []
    for l, want in enumerate(shapes):
        key = f"latent_{l}"
        if key not in arrays:
            raise CheckpointError(f"{path}: missing array {key!r}")
        w = arrays[key]
        if w.shape != want:
            raise CheckpointError(f"{path}: {key} has shape {w.shape}, metadata {source} "
                                  f"say {want}")
        if not np.isfinite(w).all():
            raise CheckpointError(f"{path}: {key} holds non-finite values")
        latent.append(w)
    return latent


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load and validate a checkpoint; any inconsistency raises CheckpointError naming it."""
    path = Path(path)
    arrays = read_npz(path, "checkpoint", "checkpoint file")
    if "meta" not in arrays:
        raise CheckpointError(f"{path}: missing 'meta' entry; not a {FORMAT} file")
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: metadata is a JSON {type(meta).__name__}, "
                              "expected an object")
    if meta.get("format") not in (FORMAT, PACKED_FORMAT):
        raise CheckpointError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r} "
                              f"or {PACKED_FORMAT!r}")
    widths = meta.get("widths")
    if (not isinstance(widths, list) or len(widths) < 2
            or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths)):
        raise CheckpointError(f"{path}: metadata 'widths' {widths!r} is not a list of >= 2 "
                              "positive integers")
    layers = meta.get("layers")
    try:
        if layers is not None:
            validate_network(widths, meta.get("theta"), meta.get("mode", "binary"),
                             where=f"{path}: metadata", modes=MODES, layers=layers)
        arch = (from_dicts(layers, widths[0], f"{path}: metadata") if layers is not None
                else dense_arch(widths))
    except NetworkError as exc:
        raise CheckpointError(str(exc)) from exc
    shapes = [x.weight_shape for x in arch if x.has_weights]
    n = len(shapes)
    if meta["format"] == PACKED_FORMAT:
        try:
            latent = read_packed(arrays, meta, shapes)
        except ValueError as exc:
            raise CheckpointError(f"{path}: {exc}") from exc
    else:
        latent = read_latent(path, arrays, shapes, "layers" if layers is not None else "widths")
    fact = arrays.get("fact")
    theta = meta.get("theta")
    if fact is None or fact.shape != (n,):
        raise CheckpointError(f"{path}: 'fact' must have shape ({n},), got "
                              f"{None if fact is None else fact.shape}")
    if not isinstance(theta, list) or len(theta) != n or not all(isinstance(t, int) for t in theta):
        raise CheckpointError(f"{path}: metadata 'theta' must be {n} integers, got {theta!r}")
    try:
        validate_network(widths, theta, meta.get("mode", "binary"), meta.get("kinds"),
                         where=f"{path}: metadata", modes=MODES, layers=layers)
    except NetworkError as exc:
        raise CheckpointError(str(exc)) from exc
    if not np.isfinite(fact).all():
        raise CheckpointError(f"{path}: 'fact' {fact.tolist()} holds non-finite values")
    return Checkpoint(latent, fact, meta)
