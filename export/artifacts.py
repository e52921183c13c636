"""Read and verify an artifact directory (docs/artifacts.md).

    from export.artifacts import load_artifacts
    art = load_artifacts("artifacts/authors")
    art.weights[0]        # (fan_out, fan_in) int8 of +-1, decoded from layer0.mem
    art.rom_words(0)      # list of python ints, word i = fan-out row of input i, bit j = neuron j
    art.vectors["spikes_1"], art.stress["label"]

Every file named in the manifest is checked (presence, size, sha256) and every ROM is
parsed and checked against the manifest's depth and width, and the three ROM formats
(.mem, .coe, .bin) against each other; any disagreement raises ArtifactError naming the
file and the field. Vector files are checksummed at load and their arrays' shapes and
dtypes are checked when first accessed.

This module must not import ``model`` (``hdl`` imports it; ``hdl`` never imports model).
It also holds the ROM encoders the exporter uses, so the format lives in one place.
"""
from __future__ import annotations

import hashlib
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SCHEMA = "bs4nn-artifacts/1"
MANIFEST = "manifest.json"
T = 256
SILENT = 256
ROM_KINDS = ("mem", "coe", "bin")
VECTOR_SETS = ("vectors", "stress")


class ArtifactError(RuntimeError):
    """An artifact directory is missing a file, or a file disagrees with the manifest."""


# ----------------------------------------------------------------------------- format

def acc_bits(fan_in: int) -> int:
    """Signed accumulator width that holds any |V| <= fan_in: ceil(log2(fan_in + 1)) + 1."""
    return math.ceil(math.log2(fan_in + 1)) + 1


def hex_digits(width: int) -> int:
    return (width + 3) // 4


def bytes_per_word(width: int) -> int:
    return (width + 7) // 8


def weights_to_words(w: np.ndarray) -> list[int]:
    """(fan_out, fan_in) +-1 matrix -> fan_in ints; bit j of word i is 1 iff w[j, i] == +1."""
    w = np.asarray(w)
    bits = (w.T > 0).astype(np.uint8)                      # (fan_in, fan_out)
    packed = np.packbits(bits, axis=1, bitorder="little")  # (fan_in, bytes) byte k = bits 8k..8k+7
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def words_to_weights(words: list[int], fan_out: int) -> np.ndarray:
    """Inverse of weights_to_words: -> (fan_out, fan_in) int8 of +-1."""
    nb = bytes_per_word(fan_out)
    raw = np.frombuffer(b"".join(x.to_bytes(nb, "little") for x in words), np.uint8)
    bits = np.unpackbits(raw.reshape(len(words), nb), axis=1, bitorder="little")[:, :fan_out]
    return np.where(bits.T == 1, 1, -1).astype(np.int8)


def mem_text(words: list[int], width: int) -> str:
    d = hex_digits(width)
    return "".join(f"{x:0{d}x}\n" for x in words)


def coe_text(words: list[int], width: int) -> str:
    d = hex_digits(width)
    body = ",\n".join(f"{x:0{d}x}" for x in words)
    return ("; BS4NN weight ROM: word i = fan-out row of input i, bit j = neuron j, 1 = +1\n"
            "memory_initialization_radix=16;\n"
            "memory_initialization_vector=\n" + body + ";\n")


def bin_bytes(words: list[int], width: int) -> bytes:
    nb = bytes_per_word(width)
    return b"".join(x.to_bytes(nb, "little") for x in words)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _parse_hex_word(tok: str, width: int, where: str) -> int:
    d = hex_digits(width)
    if len(tok) != d:
        raise ArtifactError(f"{where}: word {tok[:20]!r} has {len(tok)} hex digits, "
                            f"manifest width {width} needs {d}")
    try:
        x = int(tok, 16)
    except ValueError:
        raise ArtifactError(f"{where}: {tok[:20]!r} is not a hex word") from None
    if x >> width:
        raise ArtifactError(f"{where}: word {tok[:20]!r} has bits above manifest width {width}")
    return x


def parse_mem(path: Path, width: int, depth: int) -> list[int]:
    lines = [ln.split("//")[0].strip() for ln in path.read_text().splitlines()]
    lines = [ln for ln in lines if ln]
    if len(lines) != depth:
        raise ArtifactError(f"{path.name}: {len(lines)} words, manifest depth {depth}")
    return [_parse_hex_word(t, width, f"{path.name} line {k + 1}") for k, t in enumerate(lines)]


def parse_coe(path: Path, width: int, depth: int) -> list[int]:
    text = "\n".join(ln for ln in path.read_text().splitlines()
                     if not ln.lstrip().startswith(";"))      # ';' starts a comment line
    fields = {}
    for stmt in text.split(";"):
        if "=" in stmt:
            k, v = stmt.split("=", 1)
            fields[k.strip().lower()] = v
    if fields.get("memory_initialization_radix", "").strip() != "16":
        raise ArtifactError(f"{path.name}: memory_initialization_radix is not 16")
    if "memory_initialization_vector" not in fields:
        raise ArtifactError(f"{path.name}: no memory_initialization_vector")
    toks = [t.strip() for t in fields["memory_initialization_vector"].replace("\n", " ").split(",")]
    toks = [t for t in toks if t]
    if len(toks) != depth:
        raise ArtifactError(f"{path.name}: {len(toks)} words, manifest depth {depth}")
    return [_parse_hex_word(t, width, f"{path.name} word {k}") for k, t in enumerate(toks)]


def parse_bin(path: Path, width: int, depth: int) -> list[int]:
    raw = path.read_bytes()
    nb = bytes_per_word(width)
    if len(raw) != nb * depth:
        raise ArtifactError(f"{path.name}: {len(raw)} bytes, manifest depth {depth} x "
                            f"{nb} bytes per word = {nb * depth}")
    words = [int.from_bytes(raw[k * nb:(k + 1) * nb], "little") for k in range(depth)]
    for k, x in enumerate(words):
        if x >> width:
            raise ArtifactError(f"{path.name}: word {k} has bits above manifest width {width}")
    return words


_PARSERS = {"mem": parse_mem, "coe": parse_coe, "bin": parse_bin}


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
    thetas: list[int]
    acc_bits: list[int]
    weights: list[np.ndarray]                    # per layer (fan_out, fan_in) int8 +-1
    _words: list[list[int]] = field(repr=False, default_factory=list)
    _cache: dict = field(repr=False, default_factory=dict)

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    def rom_words(self, l: int) -> list[int]:
        """Layer l's ROM: fan_in python ints; bit j of word i = weight input i -> neuron j is +1."""
        return list(self._words[l])

    def rom_width(self, l: int) -> int:
        return self.widths[l + 1]

    def rom_depth(self, l: int) -> int:
        return self.widths[l]

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


def _check_file(root: Path, entry: dict, where: str) -> Path:
    name = _need(entry, "name", where)
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
        raise ArtifactError(f"{where}: file name {name!r} is not a plain name")
    p = root / name
    if not p.is_file():
        raise ArtifactError(f"{name}: missing file (named by manifest {where})")
    size = p.stat().st_size
    want_size = _need(entry, "bytes", where)
    if size != want_size:
        raise ArtifactError(f"{name}: {size} bytes, manifest field {where}.bytes says {want_size}")
    sha = sha256_file(p)
    want = _need(entry, "sha256", where)
    if sha != want:
        raise ArtifactError(f"{name}: sha256 {sha} does not match manifest field "
                            f"{where}.sha256 {want} (file modified or corrupt)")
    return p


def _read_vectors(root: Path, manifest: dict, widths: list[int], which: str) -> dict:
    entry = _need(_need(manifest, "vectors", MANIFEST), which, "vectors")
    p = root / entry["name"]
    n = _need(entry, "count", f"vectors.{which}")
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


def load_artifacts(path: str | Path) -> Artifacts:
    """Load and verify an artifact directory; raises ArtifactError naming file and field."""
    root = Path(path)
    mpath = root / MANIFEST
    if not root.is_dir():
        raise ArtifactError(f"{root}: no such artifact directory")
    if not mpath.is_file():
        raise ArtifactError(f"{MANIFEST}: missing file in {root}")
    try:
        manifest = json.loads(mpath.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{MANIFEST}: not valid JSON ({exc})") from exc
    if _need(manifest, "schema", MANIFEST) != SCHEMA:
        raise ArtifactError(f"{MANIFEST}: field 'schema' is {manifest['schema']!r}, "
                            f"this reader understands {SCHEMA!r}")
    widths = _need(manifest, "widths", MANIFEST)
    layers = _need(manifest, "layers", MANIFEST)
    if (not isinstance(widths, list) or len(widths) < 2
            or not all(isinstance(x, int) and x > 0 for x in widths)):
        raise ArtifactError(f"{MANIFEST}: field 'widths' {widths!r} is not >= 2 positive ints")
    if not isinstance(layers, list) or len(layers) != len(widths) - 1:
        raise ArtifactError(f"{MANIFEST}: field 'layers' must list {len(widths) - 1} layers")
    weights, words_all, thetas, accs = [], [], [], []
    for l, lay in enumerate(layers):
        where = f"layers[{l}]"
        fan_in, fan_out = _need(lay, "fan_in", where), _need(lay, "fan_out", where)
        if (fan_in, fan_out) != (widths[l], widths[l + 1]):
            raise ArtifactError(f"{MANIFEST}: {where} fan_in/fan_out {fan_in}/{fan_out} "
                                f"disagree with widths {widths}")
        theta = _need(lay, "theta", where)
        if not isinstance(theta, int) or isinstance(theta, bool):
            raise ArtifactError(f"{MANIFEST}: {where}.theta {theta!r} is not an integer")
        ab = _need(lay, "acc_bits", where)
        if ab != acc_bits(fan_in):
            raise ArtifactError(f"{MANIFEST}: {where}.acc_bits {ab} != ceil(log2({fan_in}+1))+1 "
                                f"= {acc_bits(fan_in)}")
        rom = _need(lay, "rom", where)
        width, depth = _need(rom, "width", f"{where}.rom"), _need(rom, "depth", f"{where}.rom")
        if width != fan_out:
            raise ArtifactError(f"{MANIFEST}: {where}.rom.width {width} != fan_out {fan_out}")
        if depth != fan_in:
            raise ArtifactError(f"{MANIFEST}: {where}.rom.depth {depth} != fan_in {fan_in}")
        files = _need(rom, "files", f"{where}.rom")
        parsed = {}
        for kind in ROM_KINDS:
            fw = f"{where}.rom.files.{kind}"
            p = _check_file(root, _need(files, kind, f"{where}.rom.files"), fw)
            parsed[kind] = _PARSERS[kind](p, width, depth)
        for kind in ("coe", "bin"):
            if parsed[kind] != parsed["mem"]:
                k = next(i for i, (a, b) in enumerate(zip(parsed[kind], parsed["mem"])) if a != b)
                raise ArtifactError(f"{files[kind]['name']}: word {k} differs from "
                                    f"{files['mem']['name']} (ROM formats disagree)")
        words_all.append(parsed["mem"])
        weights.append(words_to_weights(parsed["mem"], fan_out))
        thetas.append(theta)
        accs.append(ab)
    vecs = _need(manifest, "vectors", MANIFEST)
    for which in VECTOR_SETS:
        _check_file(root, _need(vecs, which, "vectors"), f"vectors.{which}")
    return Artifacts(root, manifest, list(widths), thetas, accs, weights, words_all)
