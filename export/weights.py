"""Export a checkpoint to an artifact directory (docs/artifacts.md): weight ROMs + golden vectors.

    python -m export.weights runs/authors.npz --out artifacts/authors
    python -m export.weights runs/authors.npz --out artifacts/quick --vectors 200
    python -m export.weights runs/authors.npz --check artifacts/authors

Writes one ROM per weight layer (.mem for $readmemh, .coe for Vivado, .bin packed),
manifest.json, vectors.npz (golden vectors of the test set, or of its first N images) and
stress.npz (hand-built edge cases). Output is built in a temporary folder beside DIR and
renamed into place; a DIR holding a different export is refused unless --force.
--check re-derives the ROMs from the checkpoint and compares them bit for bit (exit 1
with the differences).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from contract.artifacts import (MANIFEST, ROM_KINDS, SCHEMA, ArtifactError, load_artifacts,
                                vector_spec)
from contract.events import images_to_events
from contract.numerics import SILENT, T, encode_latency
from contract.rom import (acc_bits, bin_bytes, bytes_per_word, coe_text, hex_digits, mem_text,
                          parse_bin, parse_coe, parse_mem, weights_to_words)
from contract.files import sha256_file as file_sha256
from model.checkpoint import CheckpointError, load_checkpoint
from model.data import DataError, load as load_dataset
from model.decision import accuracy
from model.network import check_network, forward_times

BIT_ORDER = ("word i (address i, 0-based) = fan-out row of pre-synaptic input i; bit j "
             "(value 2^j) = weight from input i to neuron j")
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
BATCH = 500


# ----------------------------------------------------------------------------- golden runs

def run_golden(images: np.ndarray, weights, thetas, progress: bool = False, desc: str = ""):
    """Full golden forward pass in batches; returns dict of arrays (vector keys minus events)."""
    parts = []
    it = range(0, len(images), BATCH)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=desc, unit="batch", total=len(it), file=sys.stderr, leave=False)
    for lo in it:
        r = forward_times(encode_latency(images[lo:lo + BATCH]), weights, thetas)
        d = r.decision
        part = {f"spikes_{l}": s.astype(np.int16) for l, s in enumerate(r.spikes)}
        part.update(label=d.label.astype(np.int16), step=d.step.astype(np.int16),
                    tie=d.tie.astype(bool), no_spike=d.no_spike.astype(bool),
                    v_final=r.v_final.astype(np.int16), v_cross=r.v_cross.astype(np.int16),
                    winners=d.winners.astype(bool))
        parts.append(part)
    if not parts:
        raise ValueError("no images")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def potential_extremes(images: np.ndarray, spikes: list[np.ndarray], weights) -> tuple:
    """Per image and layer, min and max over t in 0..255 of any neuron's V(t) -> (N, L) int16."""
    n, L = len(images), len(weights)
    vmin, vmax = np.zeros((n, L), np.int16), np.zeros((n, L), np.int16)
    s_in = encode_latency(images)
    for l, w in enumerate(weights):
        wt = w.T.astype(np.int32)
        for b in range(n):
            acc = np.zeros((T + 1, w.shape[0]), np.int32)
            np.add.at(acc, s_in[b].astype(np.int64), wt)
            v = np.cumsum(acc[:T], axis=0)                         # V(t), t = 0..255
            vmin[b, l], vmax[b, l] = v.min(), v.max()
        s_in = spikes[l]
    return vmin, vmax


def _vector_arrays(images, labels, g: dict, n_layers: int) -> dict:
    off, et, ea = images_to_events(images)
    out = {"images": np.ascontiguousarray(images, np.uint8),
           "labels": np.asarray(labels, np.int16), "ev_offsets": off, "ev_time": et,
           "ev_addr": ea}
    for l in range(n_layers):
        out[f"spikes_{l}"] = g[f"spikes_{l}"]
    for k in ("label", "step", "tie", "no_spike", "v_final"):
        out[k] = g[k]
    return out


# ----------------------------------------------------------------------------- stress cases

def _first(mask: np.ndarray):
    idx = np.flatnonzero(mask)
    return int(idx[0]) if len(idx) else None


def build_stress(weights, thetas, test_images, test_labels, g_test: dict, seed: int = 0):
    """Hand-built edge cases -> (images (S, N0) uint8, labels (S,), cases list of dicts)."""
    n0 = weights[0].shape[1]
    rng = np.random.default_rng(seed)
    cases: list[tuple[str, np.ndarray, int, str]] = []

    def add(name, img, label=-1, why=""):
        cases.append((name, np.asarray(img, np.uint8), int(label), why))

    add("all_zero", np.zeros(n0), why="no pixel > 0: the single event (255, 0); no output spike")
    single = np.zeros(n0, np.uint8)
    single[n0 // 2 + (28 // 2 if n0 == 784 else 0)] = 255
    add("single_pixel", single, why="one pixel at 255 (one event, step 0)")
    add("all_255_step0", np.full(n0, 255), why="every input spikes at step 0")
    add("all_128_step127", np.full(n0, 128), why="every input spikes at mid step 127")
    add("all_1_step254", np.full(n0, 1), why="every input spikes at step 254, the last kept step")
    # Accumulator extremes of layer 0: light exactly the inputs of the neuron with the most
    # +1 (or -1) weights, so its V reaches +(# of +1) (or -(# of -1)); that is +-fan_in when
    # the row is all one sign.
    w0 = weights[0]
    pos = (w0 > 0).sum(axis=1)
    j = int(pos.argmax())
    add("vmax_layer0", np.where(w0[j] > 0, 255, 0),
        why=f"neuron {j} of layer 0 reaches V = +{int(pos[j])} (fan_in {n0}) at step 0")
    j = int((n0 - pos).argmax())
    add("vmin_layer0", np.where(w0[j] < 0, 255, 0),
        why=f"neuron {j} of layer 0 reaches V = -{int(n0 - pos[j])} (fan_in {n0}) at step 0")
    add("random_dense", rng.integers(1, 256, n0), why="every pixel > 0 at a random step (max events)")
    # From the test set (labels known): no output spike, ties with different and with equal
    # crossing potentials, the latest decision.
    vc, win = g_test["v_cross"], g_test["winners"]
    big = np.where(win, vc.astype(np.int32), np.iinfo(np.int32).min)
    top = big.max(axis=1, keepdims=True)
    eq_tie = g_test["tie"] & ((big == top).sum(axis=1) > 1)
    found = {
        "no_spike_test": (g_test["no_spike"], "test image with no output spike (argmax V(255))"),
        "tie_test": (g_test["tie"] & ~eq_tie, "test image, tie broken by crossing potential"),
        "tie_equal_v_test": (eq_tie, "test image, tie with equal potentials: lowest index wins"),
    }
    for name, (mask, why) in found.items():
        i = _first(mask)
        if i is not None:
            add(name, test_images[i], test_labels[i], f"{why} (test index {i})")
    i = int(np.where(g_test["no_spike"], -1, g_test["step"]).argmax())
    add("latest_decision_test", test_images[i], test_labels[i],
        f"test image with the latest output spike, step {int(g_test['step'][i])} (test index {i})")
    # Ties not found in the test set: search perturbed test images, then random images.
    have = {c[0] for c in cases}
    need = {"tie_test", "tie_equal_v_test"} - have
    tries = 0
    while need and tries < 8:
        tries += 1
        base = test_images[rng.integers(0, len(test_images), 400)].astype(np.int16)
        if tries % 2:
            cand = np.clip(base + rng.integers(-40, 41, base.shape), 0, 255).astype(np.uint8)
        else:
            cand = (rng.integers(0, 256, base.shape) * (rng.random(base.shape) < 0.2)).astype(np.uint8)
        g = run_golden(cand, weights, thetas)
        b = np.where(g["winners"], g["v_cross"].astype(np.int32), np.iinfo(np.int32).min)
        eq = g["tie"] & ((b == b.max(axis=1, keepdims=True)).sum(axis=1) > 1)
        for name, mask in (("tie_test", g["tie"] & ~eq), ("tie_equal_v_test", eq)):
            i = _first(mask)
            if name in need and i is not None:
                add(name.replace("_test", "_search"), cand[i], -1,
                    "searched (perturbed / random) image with a tie")
                need.discard(name)
    images = np.stack([c[1] for c in cases])
    labels = np.array([c[2] for c in cases], np.int16)
    meta = [{"index": k, "case": c[0], "why": c[3]} for k, c in enumerate(cases)]
    return images, labels, meta


# ----------------------------------------------------------------------------- writing

def _npz_bytes(arrays: dict) -> bytes:
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


def _entry(name: str, data: bytes) -> dict:
    import hashlib
    return {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def rom_files(weights) -> tuple[dict[str, bytes], list[dict]]:
    files, layers = {}, []
    for l, w in enumerate(weights):
        fan_out, fan_in = w.shape
        words = weights_to_words(w)
        content = {"mem": mem_text(words, fan_out).encode(), "coe": coe_text(words, fan_out).encode(),
                   "bin": bin_bytes(words, fan_out)}
        entries = {}
        for kind in ROM_KINDS:
            name = f"layer{l}.{kind}"
            files[name] = content[kind]
            entries[kind] = _entry(name, content[kind])
        layers.append({"index": l, "fan_in": fan_in, "fan_out": fan_out, "rom": {
            "depth": fan_in, "width": fan_out, "hex_digits": hex_digits(fan_out),
            "bytes_per_word": bytes_per_word(fan_out), "bit_order": BIT_ORDER,
            "bit_meaning": BIT_MEANING, "bin_byte_order": "little-endian: bit j is bit (j % 8) "
            "of byte (j // 8) of the word; words follow in address order", "files": entries}})
    return files, layers


def build_export(ck_path: Path, n_vectors: int | None, data_dir, dataset: str | None,
                 progress: bool) -> tuple[dict[str, bytes], dict]:
    """Everything the artifact directory holds, in memory: {file name: bytes}, summary."""
    ck = load_checkpoint(ck_path)
    ck_sha = file_sha256(ck_path)
    weights = check_network(ck.binary_weights, ck.thetas)
    thetas = ck.thetas
    widths = ck.widths
    if len(weights) < 2:
        raise ValueError(f"{ck_path}: {len(weights)} weight layer; the artifact format needs >= 2 "
                         "(with one layer, V(255) of the output would count the dropped pixels)")
    if widths[0] != 784:
        raise ValueError(f"input width {widths[0]}: the datasets have 784 pixels")
    name = dataset or ck.meta.get("dataset")
    if not name:
        raise ValueError(f"{ck_path}: checkpoint metadata has no 'dataset'; pass --dataset")
    ds = load_dataset(name, data_dir, val_size=0)
    test = ds.test
    n = len(test) if n_vectors is None else n_vectors
    if not 1 <= n <= len(test):
        raise ValueError(f"--vectors {n}: must be in 1..{len(test)}")
    t0 = time.time()
    g = run_golden(test.images, weights, thetas, progress, desc="golden vectors")
    strict, paper = accuracy(_decision_view(g), test.labels.astype(np.int64))
    L = len(weights)
    vec = _vector_arrays(test.images[:n], test.labels[:n], {k: v[:n] for k, v in g.items()}, L)
    s_img, s_lab, s_meta = build_stress(weights, thetas, test.images, test.labels, g)
    gs = run_golden(s_img, weights, thetas)
    stress = _vector_arrays(s_img, s_lab, gs, L)
    vmin, vmax = potential_extremes(s_img, [gs[f"spikes_{l}"] for l in range(L)], weights)
    stress.update(case=np.array([c["case"] for c in s_meta]), v_min=vmin, v_max=vmax)
    files, layers = rom_files(weights)
    for l, lay in enumerate(layers):
        lay["theta"] = int(thetas[l])
        lay["acc_bits"] = acc_bits(lay["fan_in"])
    files["vectors.npz"] = _npz_bytes(vec)
    files["stress.npz"] = _npz_bytes(stress)
    keys = list(vector_spec(widths, n))
    manifest = {
        "schema": SCHEMA,
        "generator": "python -m export.weights",
        "widths": widths,
        "layers": layers,
        "encoding": ENCODING,
        "decision": DECISION,
        "source": {"checkpoint": ck_path.name, "sha256": ck_sha, "dataset": name,
                   "format": ck.meta.get("format"), "mode": ck.meta.get("mode"),
                   "dataset_sha256": ds.sha256},
        "accuracy": {"split": "test", "count": len(test), "strict": strict, "paper": paper,
                     "ties": int(g["tie"].sum()), "no_spike": int(g["no_spike"].sum())},
        "vectors": {
            "vectors": dict(_entry("vectors.npz", files["vectors.npz"]), count=n,
                            events=int(vec["ev_offsets"][-1]), source=f"{name} test[:{n}]",
                            keys=keys),
            "stress": dict(_entry("stress.npz", files["stress.npz"]), count=len(s_img),
                           events=int(stress["ev_offsets"][-1]), cases=s_meta,
                           keys=keys + ["case", "v_min", "v_max"]),
        },
    }
    files[MANIFEST] = (json.dumps(manifest, indent=1, sort_keys=False) + "\n").encode()
    summary = {"n": n, "strict": strict, "paper": paper, "seconds": time.time() - t0,
               "widths": widths, "thetas": thetas, "stress": len(s_img)}
    return files, summary


def _decision_view(g):
    from model.decision import Decision
    return Decision(g["label"], g["step"], g["tie"], g["no_spike"], g["winners"])


def _existing_state(out: Path, files: dict[str, bytes]) -> str:
    """'absent', 'empty', 'identical' or 'different' (anything else that is there)."""
    if not out.exists():
        return "absent"
    if out.is_dir() and not any(out.iterdir()):
        return "empty"
    if not out.is_dir():
        return "different"
    m = out / MANIFEST
    if not m.is_file() or m.read_bytes() != files[MANIFEST]:
        return "different"
    try:
        load_artifacts(out)
    except ArtifactError:
        return "different"
    return "identical" if {q.name for q in out.iterdir()} == set(files) else "different"


def refuse_early(out: Path, ck_path: Path, n_vectors: int | None) -> None:
    """Refuse before the heavy work when DIR plainly holds something else."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    msg = (f"{out} already holds a different export (or other files); "
           "pass --force to replace it")
    try:
        m = json.loads((out / MANIFEST).read_text())
        same = (m["source"]["sha256"] == file_sha256(ck_path) and
                m["vectors"]["vectors"]["count"] == (n_vectors or m["accuracy"]["count"]))
    except (OSError, ValueError, KeyError, TypeError):
        same = not ck_path.is_file()     # let the checkpoint error speak first
    if not same:
        raise FileExistsError(msg)


def write_dir(out: Path, files: dict[str, bytes], force: bool) -> str:
    """Write atomically; returns 'written', 'replaced' or 'unchanged'."""
    out = out.absolute()
    state = _existing_state(out, files)
    if state == "identical":
        return "unchanged"
    if state == "different" and not force:
        raise FileExistsError(f"{out} already holds a different export (or other files); "
                              "pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        os.chmod(tmp, 0o755)
        load_artifacts(tmp)          # never publish something the reader rejects
        if state == "absent":
            os.rename(tmp, out)
            return "written"
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.rmdir(old)
        os.rename(out, old)
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
        return "replaced"
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- --check

def check_dir(ck_path: Path, art_dir: Path) -> list[str]:
    """Re-derive the ROMs from the checkpoint; return the differences (empty = identical)."""
    ck = load_checkpoint(ck_path)
    weights = check_network(ck.binary_weights, ck.thetas)
    problems = []
    try:
        load_artifacts(art_dir)
    except ArtifactError as exc:
        problems.append(f"verification: {exc}")
    try:
        manifest = json.loads((art_dir / MANIFEST).read_text())
        layers = manifest["layers"]
    except (OSError, ValueError, KeyError) as exc:
        return problems + [f"{MANIFEST}: unreadable ({exc})"]
    if len(layers) != len(weights):
        return problems + [f"{MANIFEST}: {len(layers)} layers, checkpoint has {len(weights)}"]
    if manifest.get("source", {}).get("sha256") != file_sha256(ck_path):
        problems.append(f"{MANIFEST}: source.sha256 is not this checkpoint's sha256 (note only)")
    parsers = {"mem": parse_mem, "coe": parse_coe, "bin": parse_bin}
    for l, (w, lay) in enumerate(zip(weights, layers)):
        fan_out, fan_in = w.shape
        if lay.get("theta") != ck.thetas[l]:
            problems.append(f"layer {l}: theta {lay.get('theta')} != checkpoint {ck.thetas[l]}")
        want = weights_to_words(w)
        for kind in ROM_KINDS:
            name = f"layer{l}.{kind}"
            try:
                got = parsers[kind](art_dir / name, fan_out, fan_in)
            except (OSError, ArtifactError) as exc:
                problems.append(f"{name}: {exc}")
                continue
            bad = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
            if bad:
                i = bad[0]
                bits = [j for j in range(fan_out) if (got[i] ^ want[i]) >> j & 1]
                problems.append(f"{name}: {len(bad)} of {fan_in} words differ; first word {i}, "
                                f"bits (neurons) {bits[:8]}{' ...' if len(bits) > 8 else ''}")
    return problems


# ----------------------------------------------------------------------------- CLI

def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.weights", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, help="checkpoint .npz (model/checkpoint.py format)")
    p.add_argument("--out", type=Path, help="artifact directory to write "
                   "(default: artifacts/<checkpoint stem>)")
    p.add_argument("--vectors", type=int, default=None, metavar="N",
                   help="golden vectors for the first N test images (default: the whole test set)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $BS4NN_DATA, ...)")
    p.add_argument("--dataset", default=None, help="override the checkpoint's meta['dataset']")
    p.add_argument("--force", action="store_true", help="replace a DIR holding a different export")
    p.add_argument("--check", type=Path, metavar="DIR",
                   help="do not write: re-derive the ROMs and compare DIR's bit for bit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    try:
        if a.check is not None:
            problems = check_dir(a.checkpoint, a.check)
            if problems:
                print(f"check FAILED: {a.check} vs {a.checkpoint}:", file=sys.stderr)
                for msg in problems:
                    print(f"  {msg}", file=sys.stderr)
                return 1
            print(f"check ok: {a.check} ROMs match {a.checkpoint} bit for bit")
            return 0
        out = a.out or Path("artifacts") / a.checkpoint.stem
        if not a.force:
            refuse_early(out, a.checkpoint, a.vectors)
        files, s = build_export(a.checkpoint, a.vectors, a.data_dir, a.dataset,
                                progress=not a.quiet)
        what = write_dir(out, files, a.force)
    except (CheckpointError, DataError, ArtifactError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size = sum(len(b) for b in files.values())
    print(f"{what} {out}: widths {s['widths']} theta {s['thetas']}, {s['n']} vectors + "
          f"{s['stress']} stress, test strict {s['strict']:.4f} paper {s['paper']:.4f}, "
          f"{size / 1e6:.1f} MB, {s['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
