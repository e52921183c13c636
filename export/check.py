"""``--check``: re-derive the ROMs from a checkpoint and compare a directory's bit for bit."""
from __future__ import annotations

import json
from pathlib import Path

from contract.artifacts import MANIFEST, ROM_KINDS, ArtifactError, load_artifacts
from contract.rom import PARSERS, weights_to_words
from contract.files import sha256_file
from export.writer import network_of
from model.checkpoint import load_checkpoint
from model.network import check_network


def _word_difference(name: str, got: list[int], want: list[int], fan_out: int) -> str | None:
    """One line on how a ROM's words differ from the wanted ones, or None when equal."""
    bad = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
    if not bad:
        return None
    i = bad[0]
    bits = [j for j in range(fan_out) if (got[i] ^ want[i]) >> j & 1]
    return (f"{name}: {len(bad)} of {len(want)} words differ; first word {i}, "
            f"bits (neurons) {bits[:8]}{' ...' if len(bits) > 8 else ''}")


def read_layers(art_dir: Path) -> tuple[list[dict], dict]:
    """The manifest's layer entries; ArtifactError when there is nothing to compare with."""
    if not art_dir.is_dir():
        raise ArtifactError(f"{art_dir}: no such artifact directory")
    try:
        manifest = json.loads((art_dir / MANIFEST).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"{art_dir / MANIFEST}: unreadable ({exc})") from exc
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise ArtifactError(f"{art_dir / MANIFEST}: field 'layers' is not a list of objects")
    return layers, manifest


def check_dir(ck_path: Path, art_dir: Path) -> list[str]:
    """Re-derive the ROMs from the checkpoint; return the differences (empty = identical)."""
    ck = load_checkpoint(ck_path)
    arch = ck.arch
    layers, manifest = read_layers(art_dir)
    sample = (manifest.get("source") or {}).get("sample")      # export --samples: that draw
    weights = check_network(network_of(ck, sample), ck.thetas, ck.conv_arch)
    problems = []
    try:
        load_artifacts(art_dir)
    except ArtifactError as exc:
        problems.append(f"verification: {exc}")
    if len(layers) != len(arch):
        return problems + [f"{MANIFEST}: {len(layers)} layers, checkpoint has {len(arch)}"]
    source = manifest.get("source")
    if not isinstance(source, dict) or source.get("sha256") != sha256_file(ck_path):
        problems.append(f"{MANIFEST}: source.sha256 is not this checkpoint's sha256 (note only)")
    wl = 0
    for l, (layer, lay) in enumerate(zip(arch, layers)):
        if lay.get("kind", "dense") != layer.kind:
            return problems + [f"layer {l}: kind {lay.get('kind')!r} != checkpoint "
                               f"{layer.kind!r}"]
        if layer.kind == "pool":
            continue
        w = weights[wl].reshape(len(weights[wl]), -1)
        theta = ck.thetas[wl]
        wl += 1
        fan_out, fan_in = w.shape
        if lay.get("theta") != theta:
            problems.append(f"layer {l}: theta {lay.get('theta')} != checkpoint {theta}")
        want = weights_to_words(w)
        for kind in ROM_KINDS:
            name = f"layer{l}.{kind}"
            try:
                got = PARSERS[kind](art_dir / name, fan_out, fan_in)
            except (OSError, ValueError, ArtifactError) as exc:
                problems.append(f"{name}: {exc}")
                continue
            diff = _word_difference(name, got, want, fan_out)
            if diff:
                problems.append(diff)
    return problems
