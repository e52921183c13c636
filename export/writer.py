"""The artifact directory's contents, in memory: ROM files, vector files, manifest.

``build_export`` loads the checkpoint and the dataset, runs the golden model and returns
``{file name: bytes}``; export/directory.py writes that out. Same checkpoint, dataset and
vector count give byte-identical files (docs/artifacts.md).
"""
from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np

from contract.artifacts import MANIFEST, ROM_KINDS, SCHEMA, SCHEMA_2, vector_spec
from contract.numerics import SILENT, T
from contract.rom import (acc_bits, bin_bytes, bytes_per_word, coe_text, hex_digits, mem_text,
                          weights_to_words)
from export.golden import decision_view, potential_extremes, run_golden, vector_arrays
from export.stress import build_stress
from contract.files import sha256_file
from contract.network import validate_network
from model.arch import dense_arch
from model.checkpoint import load_checkpoint
from model.posterior import sample_networks
from model.data import load as load_dataset
from model.decision import accuracy
from model.network import check_network

BIT_ORDER = ("word i (address i, 0-based) = fan-out row of pre-synaptic input i; bit j "
             "(value 2^j) = weight from input i to neuron j")
CONV_BIT_ORDER = ("word f = c_in * K * K + ky * K + kx (address f, 0-based) = the kernel "
                  "bits of offset (c_in, ky, kx); bit c (value 2^c) = weight of output "
                  "channel c; an input event (c_in, y, x) reads the K * K words of c_in and "
                  "adds word (ky, kx) to output position ((y + P - ky) / S, (x + P - kx) / S) "
                  "where that is a whole number inside the map")
BIT_MEANING = {"1": 1, "0": -1}
ENCODING = {
    "T": T, "silent": SILENT,
    "latency": "pixel intensity p in 0..255 spikes once, at step s = 255 - p",
    "drop": "pixels with s = 255 (p = 0) send no event; they cannot cause a spike before 256",
    "order": "events sorted by (time, input index)",
    "empty_image": "an image with no pixel > 0 is sent as the single event (time 255, index 0)",
    "empty_event": [T - 1, 0],
    "layer_delay": "a neuron whose V first reaches theta at step t spikes at t + 1 (t = 255 -> silent)",
    "compare": "V >= theta compared once per step, after all of that step's events",
}
DECISION = {
    "rule": ("if some output neuron fired: the earliest spiker wins; ties go to the highest "
             "potential at the crossing step, then the lowest index; if none fired: argmax of "
             "V(255), lowest index on equal values"),
    "fields": {
        "label": "the decided class (strict rule)",
        "step": "first output crossing step (spike time - 1), or 255 when no output fired",
        "tie": "more than one output neuron crossed at that first step",
        "no_spike": "no output neuron fired; label = argmax V(255)",
    },
    "tie_break": ["max v_cross", "min index"],
    "no_spike_step": T - 1,
}


def npz_bytes(arrays: dict) -> bytes:
    """Deterministic .npz (fixed zip timestamps, deflate), loadable by np.load."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for k in sorted(arrays):
            a = np.ascontiguousarray(arrays[k])
            info = zipfile.ZipInfo(f"{k}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            b = io.BytesIO()
            np.lib.format.write_array(b, a, allow_pickle=False)
            zf.writestr(info, b.getvalue())
    return buf.getvalue()


def file_entry(name: str, data: bytes) -> dict:
    """A manifest file entry: name, byte count, sha256."""
    return {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def rom_files(weights, arch=None) -> tuple[dict[str, bytes], list[dict]]:
    """Every weight layer's ROM in the three formats, and the manifest's layer entries (less
    theta). ``arch`` (conv networks): entries carry kind and shapes (schema 2); a conv
    layer's ROM holds its kernels as (C_out, C_in * K * K): word f = offset, bit c = channel."""
    files, layers = {}, []
    it = iter(weights)
    for l, layer in enumerate(arch or dense_arch([weights[0].shape[1]]
                                                 + [w.shape[0] for w in weights])):
        entry = {"index": l, **(layer.to_dict() if arch else {})}
        if layer.kind == "pool":
            layers.append(entry)
            continue
        w = next(it)
        w = w.reshape(w.shape[0], -1)
        fan_out, fan_in = w.shape
        words = weights_to_words(w)
        content = {"mem": mem_text(words, fan_out).encode(), "coe": coe_text(words, fan_out).encode(),
                   "bin": bin_bytes(words, fan_out)}
        entries = {}
        for kind in ROM_KINDS:
            name = f"layer{l}.{kind}"
            files[name] = content[kind]
            entries[kind] = file_entry(name, content[kind])
        entry.update(fan_in=fan_in, fan_out=fan_out if layer.kind == "dense" else layer.n_out)
        entry["rom"] = {
            "depth": fan_in, "width": fan_out, "hex_digits": hex_digits(fan_out),
            "bytes_per_word": bytes_per_word(fan_out),
            "bit_order": CONV_BIT_ORDER if layer.kind == "conv" else BIT_ORDER,
            "bit_meaning": BIT_MEANING, "bin_byte_order": "little-endian: bit j is bit (j % 8) "
            "of byte (j // 8) of the word; words follow in address order", "files": entries}
        layers.append(entry)
    return files, layers


def network_of(ck, sample: dict | None) -> list[np.ndarray]:
    """The checkpoint's binary weights, or with ``sample`` ({"index", "seed"}) that network
    drawn from its distribution (ValueError when it has none)."""
    if sample is None:
        return ck.binary_weights
    k, seed = (sample.get(x) if isinstance(sample, dict) else None for x in ("index", "seed"))
    if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in (k, seed)):
        raise ValueError(f"sample {sample!r}: expected {{'index': k, 'seed': s}}, integers >= 0")
    return sample_networks(ck, k + 1, seed)[k]


def build_export(ck_path: Path, n_vectors: int | None, data_dir, dataset: str | None,
                 progress: bool, sample: dict | None = None) -> tuple[dict[str, bytes], dict]:
    """Everything the artifact directory holds, in memory: {file name: bytes}, summary.

    ``sample``: {"index": k, "seed": s} exports network k of those drawn with seed s from
    the checkpoint's distribution (``model.posterior.sample_networks``) instead of its most
    probable one; the manifest's ``source.sample`` records it."""
    ck = load_checkpoint(ck_path)
    ck_sha = sha256_file(ck_path)
    validate_network(ck.widths, ck.thetas, ck.meta.get("mode", "binary"), ck.meta.get("kinds"),
                     where=f"{ck_path}: the hardware", layers=ck.meta.get("layers"))
    arch = ck.conv_arch
    weights = check_network(network_of(ck, sample), ck.thetas, arch)
    thetas = ck.thetas
    widths = ck.widths
    if len(weights) < 2:
        raise ValueError(f"{ck_path}: {len(weights)} weight layer; the artifact format needs >= 2 "
                         "(with one layer, V(255) of the output would count the dropped pixels)")
    if widths[0] != 784:
        raise ValueError(f"{ck_path}: input width {widths[0]}: the datasets have 784 pixels")
    if widths[-1] != 10:
        raise ValueError(f"{ck_path}: output width {widths[-1]}: the datasets have 10 classes "
                         "(one output neuron each)")
    name = dataset or ck.meta.get("dataset")
    if not name:
        raise ValueError(f"{ck_path}: checkpoint metadata has no 'dataset'; pass --dataset")
    ds = load_dataset(name, data_dir, val_size=0)
    test = ds.test
    n = len(test) if n_vectors is None else n_vectors
    if not 1 <= n <= len(test):
        raise ValueError(f"--vectors {n}: must be in 1..{len(test)}")
    t0 = time.time()
    g = run_golden(test.images, weights, thetas, progress, desc="golden vectors", arch=arch)
    strict, paper = accuracy(decision_view(g), test.labels.astype(np.int64))
    L = len(widths) - 1
    vec = vector_arrays(test.images[:n], test.labels[:n], {k: v[:n] for k, v in g.items()}, L)
    s_img, s_lab, s_meta = build_stress(weights, thetas, test.images, test.labels, g,
                                        arch=arch)
    gs = run_golden(s_img, weights, thetas, arch=arch)
    stress = vector_arrays(s_img, s_lab, gs, L)
    vmin, vmax = potential_extremes(s_img, [gs[f"spikes_{l}"] for l in range(L)], weights,
                                    arch)
    stress.update(case=np.array([c["case"] for c in s_meta]), v_min=vmin, v_max=vmax)
    files, layers = rom_files(weights, arch)
    for lay, theta in zip([x for x in layers if "rom" in x], thetas):
        lay["theta"] = int(theta)
        lay["acc_bits"] = acc_bits(lay["fan_in"])
    files["vectors.npz"] = npz_bytes(vec)
    files["stress.npz"] = npz_bytes(stress)
    keys = list(vector_spec(widths, n))
    manifest = {
        "schema": SCHEMA if arch is None else SCHEMA_2,
        "generator": "python -m export.weights",
        "widths": widths,
        "layers": layers,
        "encoding": ENCODING,
        "decision": DECISION,
        "source": {"checkpoint": ck_path.name, "sha256": ck_sha, "dataset": name,
                   "format": ck.meta.get("format"), "mode": ck.meta.get("mode"),
                   "dataset_sha256": ds.sha256, **({"sample": sample} if sample else {})},
        "accuracy": {"split": "test", "count": len(test), "strict": strict, "paper": paper,
                     "ties": int(g["tie"].sum()), "no_spike": int(g["no_spike"].sum())},
        "vectors": {
            "vectors": dict(file_entry("vectors.npz", files["vectors.npz"]), count=n,
                            events=int(vec["ev_offsets"][-1]), source=f"{name} test[:{n}]",
                            keys=keys),
            "stress": dict(file_entry("stress.npz", files["stress.npz"]), count=len(s_img),
                           events=int(stress["ev_offsets"][-1]), cases=s_meta,
                           keys=keys + ["case", "v_min", "v_max"]),
        },
    }
    files[MANIFEST] = (json.dumps(manifest, indent=1, sort_keys=False) + "\n").encode()
    summary = {"n": n, "strict": strict, "paper": paper, "seconds": time.time() - t0,
               "widths": widths if arch is None else ck.meta.get("arch", widths),
               "thetas": thetas, "stress": len(s_img)}
    return files, summary
