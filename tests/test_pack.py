"""Packed checkpoints (model/packed.py, ``python -m model.pack``): the bits, their order, the
integrity checks, the same network and the same export as the full checkpoint, and the
packed networks in pretrained/."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.arch import parse_arch, spec_of, to_dicts, weight_layers
from model.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from model.pack import main as pack, train_command
from model.packed import PACKED_FORMAT

ROOT = Path(__file__).resolve().parents[1]
CONV = "conv4k5,pool2,conv6k3,pool2,fc10"


def dense_ckpt(path: Path) -> Path:
    """784-13-10 (10 * 13 = 130 bits: the last byte of layer 1 has padding), seed 3."""
    rng = np.random.default_rng(3)
    lat = [rng.standard_normal((13, 784)).astype(np.float32),
           rng.standard_normal((10, 13)).astype(np.float32)]
    Checkpoint(lat, np.array([2.0, 3.0]), {
        "mode": "binary", "thr": [100.0, 100.0], "theta": [5, 2], "dataset": "mnist",
        "config": {"dataset": "mnist", "hidden": [13], "theta": [5, 2], "epochs": 3},
        "test": {"strict": 0.5, "paper": 0.51}, "history": [{"epoch": 1}]}).save(path)
    return path


def conv_ckpt(path: Path) -> Path:
    arch = parse_arch(CONV)
    rng = np.random.default_rng(4)
    lat = [rng.standard_normal(x.weight_shape).astype(np.float32) for x in weight_layers(arch)]
    Checkpoint(lat, np.ones(len(lat)), {
        "mode": "binary", "thr": [100.0] * 3, "theta": [3, 5, 4], "dataset": "mnist",
        "layers": to_dicts(arch), "arch": spec_of(arch)}).save(path)
    return path


def packed(tmp_path: Path, source: Path, *extra: str) -> Path:
    out = tmp_path / f"{source.stem}.packed.npz"
    assert pack([str(source), "--out", str(out), *extra]) == 0
    return out


@pytest.mark.parametrize("make", [dense_ckpt, conv_ckpt], ids=["dense", "conv"])
def test_same_network_and_metadata(make, tmp_path):
    full = load_checkpoint(make(tmp_path / "full.npz"))
    p = load_checkpoint(packed(tmp_path, tmp_path / "full.npz"))
    assert p.packed and not full.packed and p.meta["format"] == PACKED_FORMAT
    assert p.thetas == full.thetas and p.widths == full.widths and p.arch == full.arch
    for a, b, lat in zip(p.binary_weights, full.binary_weights, p.latent):
        assert np.array_equal(a, b)
        assert lat.dtype == np.float32 and set(np.unique(lat)) <= {-1.0, 1.0}
    assert np.array_equal(p.fact, full.fact)
    for key in ("dataset", "config", "test", "history", "layers", "arch"):
        assert p.meta.get(key) == full.meta.get(key)


def test_bit_order_and_size(tmp_path):
    """Flat C-order index k is bit k % 8 of byte k // 8; bit 1 = +1; padding bits 0."""
    src = dense_ckpt(tmp_path / "full.npz")
    full = load_checkpoint(src)
    with np.load(packed(tmp_path, src)) as z:
        bits0, bits1 = z["bits_0"], z["bits_1"]
    w0 = full.binary_weights[0].ravel()
    for k in (0, 1, 9, 5000, w0.size - 1):
        assert (bits0[k // 8] >> (k % 8)) & 1 == (w0[k] == 1)
    assert bits0.size == 13 * 784 // 8 and bits1.size == 17            # ceil(130 / 8)
    assert bits1[-1] >> 2 == 0


def corrupt(tmp_path: Path, edit) -> Path:
    src = packed(tmp_path, dense_ckpt(tmp_path / "full.npz"))
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    edit(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    return tmp_path / "bad.npz"


def set_meta(**fields):
    def edit(arrays):
        meta = json.loads(arrays["meta"].tobytes())
        meta.update(fields)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    return edit


@pytest.mark.parametrize("edit, message", [
    (lambda a: a["bits_1"].__setitem__(-1, a["bits_1"][-1] | 0x80), "padding bits"),
    (lambda a: a["bits_0"].__setitem__(3, a["bits_0"][3] ^ 1), "sha256"),
    (lambda a: a.update(bits_0=a["bits_0"].astype(np.int16)), "expected uint8"),
    (set_meta(mode="real"), "mode 'real'"),
    (set_meta(distribution={"kind": "x"}), "distribution"),
    (set_meta(packed={"layers": []}), "must list 2 layers"),
], ids=["padding", "flipped-bit", "dtype", "real", "distribution", "no-records"])
def test_corrupt_packed_files_are_refused(edit, message, tmp_path):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(corrupt(tmp_path, edit))


def test_existing_output_needs_force(tmp_path, capsys):
    src = dense_ckpt(tmp_path / "full.npz")
    out = packed(tmp_path, src)
    before = out.read_bytes()
    assert pack([str(src), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert pack([str(src), "--out", str(out), "--force", "--train-command", "x y"]) == 0
    assert load_checkpoint(out).meta["packed"]["train_command"] == "x y"


def test_train_command_rebuilt_from_config(tmp_path):
    p = load_checkpoint(packed(tmp_path, dense_ckpt(tmp_path / "full.npz")))
    assert p.meta["packed"]["train_command"] == ("python -m model.train --hidden 13 "
                                                 "--epochs 3 --theta 5 2")
    assert p.meta["packed"]["train_command_from"] == "rebuilt from the recorded config"
    assert train_command({"init_hidden": 5.0}) == "python -m model.train"   # older configs


def test_saving_a_packed_checkpoint_writes_a_full_one(tmp_path):
    p = load_checkpoint(packed(tmp_path, dense_ckpt(tmp_path / "full.npz")))
    p.save(tmp_path / "again.npz")
    again = load_checkpoint(tmp_path / "again.npz")
    assert not again.packed and "packed" not in again.meta
    assert all(np.array_equal(a, b) for a, b in zip(again.binary_weights, p.binary_weights))


def test_export_is_byte_identical(tmp_path, data_dir):
    """ROMs and vectors of the packed checkpoint equal those of the full one."""
    from export.weights import main as export
    src = dense_ckpt(tmp_path / "full.npz")
    for ck, out in ((src, "a"), (packed(tmp_path, src), "b")):
        assert export([str(ck), "--out", str(tmp_path / out), "--vectors", "5",
                       "--data-dir", str(data_dir), "--quiet"]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "layer0.mem" in names and "vectors.npz" in names
    for name in names:
        if name != "manifest.json":        # it names the checkpoint file and its sha256
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize("name", ["mnist-784-600-10.npz", "fashion-784-600-10.npz",
                                  "fashion-early-late-784-600-10.npz"])
def test_pretrained_networks_are_packed(name):
    path = ROOT / "pretrained" / name
    assert path.stat().st_size < 100_000
    ck = load_checkpoint(path)
    assert ck.packed and ck.widths == [784, 600, 10]
    assert ck.meta["test"]["strict"] > 0.85
    assert ck.meta["packed"]["train_command"].startswith("python -m model.train")
