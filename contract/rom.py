"""The weight-ROM format (docs/artifacts.md, "ROMs"): packing, the three file encodings, parsers.

Word i of layer l's ROM is the fan-out row of input i: bit j is 1 when the weight from
input i to neuron j is +1 (0 for -1). ``.mem`` ($readmemh text), ``.coe`` (Vivado) and
``.bin`` (little-endian packed words) hold the same words.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import ArtifactError

__all__ = ["acc_bits", "hex_digits", "bytes_per_word", "weights_to_words", "words_to_weights",
           "mem_text", "coe_text", "bin_bytes", "parse_mem", "parse_coe", "parse_bin", "PARSERS"]


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


PARSERS = {"mem": parse_mem, "coe": parse_coe, "bin": parse_bin}


