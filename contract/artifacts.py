"""Read and verify an artifact directory (docs/artifacts.md).

    from contract.artifacts import load_artifacts
    art = load_artifacts("artifacts/authors")
    art.weights[0]        # (fan_out, fan_in) int8 of +-1, decoded from layer0.mem
    art.rom_words(0)      # list of python ints, word i = fan-out row of input i, bit j = neuron j
    art.vectors["spikes_1"], art.stress["label"]

Two manifest schemas: ``bs4nn-artifacts/1`` (dense layers only) and ``bs4nn-artifacts/2``
(each layer has a ``kind``: dense, conv or pool, with its shapes; an unknown kind is
refused by name). Every file named in the manifest is checked (presence, size, sha256) and every ROM is
parsed and checked against the manifest's depth and width, and the three ROM formats
(.mem, .coe, .bin) against each other; any disagreement raises ArtifactError naming the
file and the field. Vector files are checksummed at load and their arrays' shapes and
dtypes are checked when first accessed.

Part of the contract package: numpy only, imported by every stage (see contract/__init__.py).
"""
from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ArtifactError
from .files import sha256_file
from .network import NetworkError, check_layers, fan_in, validate_network
from .rom import PARSERS, acc_bits, words_to_weights

SCHEMA = "bs4nn-artifacts/1"
SCHEMA_2 = "bs4nn-artifacts/2"
SCHEMAS = (SCHEMA, SCHEMA_2)
MANIFEST = "manifest.json"
ROM_KINDS = ("mem", "coe", "bin")
VECTOR_SETS = ("vectors", "stress")


def vector_spec(widths: list[int], n: int) -> dict[str, tuple[tuple[int, ...] | None, str]]:
    """Expected keys of a vectors file: key -> (shape or None for event arrays, dtype)."""
    spec = {"images": ((n, widths[0]), "uint8"), "labels": ((n,), "int16"),
            "ev_offsets": ((n + 1,), "int64"), "ev_time": (None, "uint8"),
            "ev_addr": (None, "uint16")}
    for l in range(len(widths) - 1):
        spec[f"spikes_{l}"] = ((n, widths[l + 1]), "int16")
    spec.update({"label": ((n,), "int16"), "step": ((n,), "int16"), "tie": ((n,), "bool"),
                 "no_spike": ((n,), "bool"), "v_final": ((n, widths[-1]), "int16")})
    return spec


# ----------------------------------------------------------------------------- reader

@dataclass
class Artifacts:
    path: Path
    manifest: dict
    widths: list[int]
    thetas: list[int]                            # per layer (None for pooling)
    acc_bits: list[int]                          # per layer (None for pooling)
    weights: list[np.ndarray]                    # per layer: dense (fan_out, fan_in) int8 +-1,
    #                                              conv (C_out, C_in, K, K), pooling None
    _words: list[list[int]] = field(repr=False, default_factory=list)
    layers: list[dict] = field(default_factory=list)   # kind, in_shape, out_shape, geometry

    @property
    def kinds(self) -> list[str]:
        """Each layer's kind: "dense", "conv" or "pool"."""
        return [x["kind"] for x in self.layers]
    _cache: dict = field(repr=False, default_factory=dict)

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    def rom_words(self, l: int) -> list[int]:
        """Layer l's ROM: fan_in python ints; bit j of word i = weight input i -> neuron j is +1."""
        return list(self._words[l])

    def rom_width(self, l: int) -> int:
        """Bits per word: the layer's neurons (dense) or output channels (conv)."""
        return self.layers[l]["out_shape"][0]

    def rom_depth(self, l: int) -> int:
        """Words: the layer's inputs (dense) or kernel offsets C_in * K * K (conv)."""
        return fan_in(self.layers[l])

    def _load_vectors(self, which: str) -> dict[str, np.ndarray]:
        if which not in self._cache:
            self._cache[which] = _read_vectors(self.path, self.manifest, self.widths, which)
        return self._cache[which]

    @property
    def vectors(self) -> dict[str, np.ndarray]:
        """Golden vectors of real test images (loaded and shape-checked on first access)."""
        return self._load_vectors("vectors")

    @property
    def stress(self) -> dict[str, np.ndarray]:
        """Golden vectors of hand-built edge cases (same keys, plus `case`)."""
        return self._load_vectors("stress")

    def events(self, which: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(times, addrs) of image n of `which` ('vectors' or 'stress')."""
        v = self._load_vectors(which)
        lo, hi = int(v["ev_offsets"][n]), int(v["ev_offsets"][n + 1])
        return v["ev_time"][lo:hi], v["ev_addr"][lo:hi]


def _need(d: dict, key: str, where: str):
    if not isinstance(d, dict) or key not in d:
        raise ArtifactError(f"{where}: missing field {key!r}")
    return d[key]


def _need_int(d: dict, key: str, where: str) -> int:
    """A field that must be an integer (a JSON string "2400" is not)."""
    v = _need(d, key, where)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ArtifactError(f"{MANIFEST}: field {where}.{key} is {v!r}, expected an integer")
    return v


def _check_file(root: Path, entry: dict, where: str) -> Path:
    name = _need(entry, "name", where)
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
        raise ArtifactError(f"{where}: file name {name!r} is not a plain name")
    p = root / name
    if not p.is_file():
        raise ArtifactError(f"{name}: missing file (named by manifest {where})")
    size = p.stat().st_size
    want_size = _need_int(entry, "bytes", where)
    if size != want_size:
        raise ArtifactError(f"{name}: {size} bytes, manifest field {where}.bytes says {want_size}")
    sha = sha256_file(p)
    want = _need(entry, "sha256", where)
    if not isinstance(want, str):
        raise ArtifactError(f"{MANIFEST}: field {where}.sha256 is {want!r}, expected a string")
    if sha != want:
        raise ArtifactError(f"{name}: sha256 {sha} does not match manifest field "
                            f"{where}.sha256 {want} (file modified or corrupt)")
    return p


def _read_vectors(root: Path, manifest: dict, widths: list[int], which: str) -> dict:
    entry = _need(_need(manifest, "vectors", MANIFEST), which, "vectors")
    p = root / entry["name"]
    n = _need_int(entry, "count", f"vectors.{which}")
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ArtifactError(f"{p.name}: unreadable ({exc})") from exc
    for key, (shape, dtype) in vector_spec(widths, n).items():
        if key not in data:
            raise ArtifactError(f"{p.name}: missing array {key!r}")
        a = data[key]
        if str(a.dtype) != dtype:
            raise ArtifactError(f"{p.name}: {key} has dtype {a.dtype}, expected {dtype}")
        if shape is not None and a.shape != shape:
            raise ArtifactError(f"{p.name}: {key} has shape {a.shape}, expected {shape} "
                                f"(manifest count {n}, widths {widths})")
    e = int(data["ev_offsets"][-1]) if n >= 0 else 0
    for key in ("ev_time", "ev_addr"):
        if data[key].shape != (e,):
            raise ArtifactError(f"{p.name}: {key} has shape {data[key].shape}, "
                                f"ev_offsets[-1] says ({e},)")
    if "events" in entry and entry["events"] != e:
        raise ArtifactError(f"{p.name}: {e} events, manifest field vectors.{which}.events "
                            f"says {entry['events']}")
    return data


def _read_manifest(root: Path) -> dict:
    mpath = root / MANIFEST
    if not root.is_dir():
        raise ArtifactError(f"{root}: no such artifact directory")
    if not mpath.is_file():
        raise ArtifactError(f"{MANIFEST}: missing file in {root}")
    try:
        manifest = json.loads(mpath.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{MANIFEST}: not valid JSON ({exc})") from exc
    if _need(manifest, "schema", MANIFEST) not in SCHEMAS:
        raise ArtifactError(f"{MANIFEST}: field 'schema' is {manifest['schema']!r}, "
                            f"this reader understands {' and '.join(map(repr, SCHEMAS))}")
    return manifest


def _layer_descriptions(manifest: dict, widths: list[int], layers: list) -> list[dict]:
    """Schema 1: dense layers from the widths; schema 2: the layers' own descriptions."""
    if manifest["schema"] == SCHEMA:
        return [{"kind": "dense", "in_shape": (a,), "out_shape": (b,)}
                for a, b in zip(widths[:-1], widths[1:])]
    for l, lay in enumerate(layers):
        _need(lay, "kind", f"layers[{l}]")
    try:
        return check_layers(layers, widths[0], MANIFEST)
    except NetworkError as exc:
        raise ArtifactError(str(exc)) from exc


def _read_rom(root: Path, lay: dict, where: str, width: int, depth: int) -> list[int]:
    """A layer's ROM words, its three formats checked against the manifest and each other."""
    rom = _need(lay, "rom", where)
    w, d = _need_int(rom, "width", f"{where}.rom"), _need_int(rom, "depth", f"{where}.rom")
    if w != width:
        raise ArtifactError(f"{MANIFEST}: {where}.rom.width {w} != {width}")
    if d != depth:
        raise ArtifactError(f"{MANIFEST}: {where}.rom.depth {d} != fan_in {depth}")
    files = _need(rom, "files", f"{where}.rom")
    parsed = {}
    for kind in ROM_KINDS:
        p = _check_file(root, _need(files, kind, f"{where}.rom.files"),
                        f"{where}.rom.files.{kind}")
        parsed[kind] = PARSERS[kind](p, width, depth)
    for kind in ("coe", "bin"):
        if parsed[kind] != parsed["mem"]:
            k = next(i for i, (a, b) in enumerate(zip(parsed[kind], parsed["mem"])) if a != b)
            raise ArtifactError(f"{files[kind]['name']}: word {k} differs from "
                                f"{files['mem']['name']} (ROM formats disagree)")
    return parsed["mem"]


def load_artifacts(path: str | Path) -> Artifacts:
    """Load and verify an artifact directory; raises ArtifactError naming file and field."""
    root = Path(path)
    manifest = _read_manifest(root)
    widths = _need(manifest, "widths", MANIFEST)
    layers = _need(manifest, "layers", MANIFEST)
    if (not isinstance(widths, list) or len(widths) < 2
            or not all(isinstance(x, int) and x > 0 for x in widths)):
        raise ArtifactError(f"{MANIFEST}: field 'widths' {widths!r} is not >= 2 positive ints")
    if not isinstance(layers, list) or len(layers) != len(widths) - 1:
        raise ArtifactError(f"{MANIFEST}: field 'layers' must list {len(widths) - 1} layers")
    descs = _layer_descriptions(manifest, widths, layers)
    thetas = [None if d["kind"] == "pool" else _need_int(lay, "theta", f"layers[{l}]")
              for l, (d, lay) in enumerate(zip(descs, layers))]
    try:
        validate_network(widths, [t for t in thetas if t is not None], where=MANIFEST,
                         layers=None if manifest["schema"] == SCHEMA else descs)
    except NetworkError as exc:
        raise ArtifactError(str(exc)) from exc
    weights, words_all, accs = [], [], []
    for l, (d, lay) in enumerate(zip(descs, layers)):
        where = f"layers[{l}]"
        if d["kind"] == "pool":
            weights.append(None)
            words_all.append([])
            accs.append(None)
            continue
        fi = fan_in(d)
        fan_in_field = _need_int(lay, "fan_in", where)
        if fan_in_field != fi:
            raise ArtifactError(f"{MANIFEST}: {where}.fan_in {fan_in_field} != {fi} "
                                f"({d['kind']} layer of {list(d['in_shape'])} inputs)")
        if d["kind"] == "dense":
            fan_out = _need_int(lay, "fan_out", where)
            if (fi, fan_out) != (widths[l], widths[l + 1]):
                raise ArtifactError(f"{MANIFEST}: {where} fan_in/fan_out {fi}/{fan_out} "
                                    f"disagree with widths {widths}")
        ab = _need_int(lay, "acc_bits", where)
        if ab != acc_bits(fi):
            raise ArtifactError(f"{MANIFEST}: {where}.acc_bits {ab} != ceil(log2({fi}+1))+1 "
                                f"= {acc_bits(fi)}")
        width = d["out_shape"][0]
        words = _read_rom(root, lay, where, width, fi)
        w = words_to_weights(words, width)
        if d["kind"] == "conv":
            k = d["kernel"]
            w = w.reshape(width, d["in_shape"][0], k, k)
        words_all.append(words)
        weights.append(w)
        accs.append(ab)
    vecs = _need(manifest, "vectors", MANIFEST)
    for which in VECTOR_SETS:
        _check_file(root, _need(vecs, which, "vectors"), f"vectors.{which}")
    return Artifacts(root, manifest, list(widths), thetas, accs, weights, words_all,
                     layers=[dict(d, in_shape=list(d["in_shape"]),
                                  out_shape=list(d["out_shape"])) for d in descs])


SAMPLE_DIR = re.compile(r"sample(\d+)")     # export.weights --samples M: DIR/sample<k>


def sample_dirs(path: str | Path) -> list[Path]:
    """The sample<k> export folders directly in ``path``, in the order of k (none when
    ``path`` is not a folder)."""
    path = Path(path)
    if not path.is_dir():
        return []
    found = [(int(m[1]), p) for p in path.iterdir()
             if p.is_dir() and (m := SAMPLE_DIR.fullmatch(p.name))]
    return [p for _, p in sorted(found)]
