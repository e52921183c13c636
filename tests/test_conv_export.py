"""Export of a convolutional network (docs/artifacts.md, schema 2): a briefly trained conv
net's artifact directory round-trips (ROM -> weights -> golden forward) exactly, its stress
cases cover the conv edges, ``--check`` and the bad-input rules hold, version-1 (dense)
directories still load and the dense core's network description refuses conv layers by
name."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import export.weights as exporter
from contract.artifacts import SCHEMA, SCHEMA_2, ArtifactError, load_artifacts
from contract.numerics import encode_latency
from model.arch import from_dicts
from model.checkpoint import Checkpoint, load_checkpoint
from model.config import TrainConfig
from model.loop import train
from model.network import forward_times

SPEC = "conv4k5p2,pool2,fc10"


def run_cli(*args) -> int:
    return exporter.main([str(a) for a in args] + ["--quiet"])


@pytest.fixture(scope="module")
def tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("conv_export")


@pytest.fixture(scope="module")
def conv_ckpt(tmp, data_dir) -> Path:
    """Briefly trained, then channel 0's kernel set to all +1: on the all-255 image even its
    corner positions (9 of 25 inputs inside the map) reach theta 3, so every position fires."""
    cfg = TrainConfig(arch=SPEC, epochs=1, train_subset=1000, val_size=500, threads=2)
    ck, _ = train(cfg, data_dir, None, progress=False, log=lambda s: None)
    ck.latent[0][0] = 1.0
    assert ck.thetas[0] <= 9
    ck.save(tmp / "conv.npz")
    return tmp / "conv.npz"


@pytest.fixture(scope="module")
def conv_dir(tmp, conv_ckpt, data_dir) -> Path:
    out = tmp / "art_conv"
    assert run_cli(conv_ckpt, "--out", out, "--vectors", "40", "--data-dir", data_dir) == 0
    return out


def golden_again(art, which: str) -> None:
    """The artifacts' own weights, thresholds and layers reproduce the stored vectors."""
    arch = from_dicts(art.layers, art.widths[0])
    v = getattr(art, which)
    ws = [w for w in art.weights if w is not None]
    ths = [t for t in art.thetas if t is not None]
    f = forward_times(encode_latency(v["images"]), ws, ths, arch)
    for l in range(len(arch)):
        np.testing.assert_array_equal(f.spikes[l], v[f"spikes_{l}"], err_msg=f"{which} {l}")
    np.testing.assert_array_equal(f.label, v["label"])
    np.testing.assert_array_equal(f.decision.step, v["step"])
    np.testing.assert_array_equal(f.decision.tie, v["tie"])
    np.testing.assert_array_equal(f.decision.no_spike, v["no_spike"])
    np.testing.assert_array_equal(f.v_final, v["v_final"])


def test_conv_roundtrip(conv_dir, conv_ckpt):
    art = load_artifacts(conv_dir)
    ck = load_checkpoint(conv_ckpt)
    assert art.manifest["schema"] == SCHEMA_2
    assert art.kinds == ["conv", "pool", "dense"]
    assert art.widths == [784, 4 * 28 * 28, 4 * 14 * 14, 10]
    assert art.thetas[1] is None and art.weights[1] is None
    np.testing.assert_array_equal(art.weights[0], ck.binary_weights[0])
    np.testing.assert_array_equal(art.weights[2], ck.binary_weights[1])
    assert art.rom_depth(0) == 25 and art.rom_width(0) == 4
    assert art.layers[0] == {"kind": "conv", "in_shape": [1, 28, 28],
                             "out_shape": [4, 28, 28], "kernel": 5, "stride": 1, "pad": 2}
    assert art.vectors["spikes_1"].shape == (40, 4 * 14 * 14)
    golden_again(art, "vectors")
    golden_again(art, "stress")


def test_conv_stress_cases(conv_dir):
    art = load_artifacts(conv_dir)
    cases = list(art.stress["case"])
    for name in ("all_255_step0", "padding_edges", "channel_all_fire", "pool_tie"):
        assert name in cases, name
    s = art.stress
    k = cases.index("channel_all_fire")
    assert ((s["spikes_0"][k].reshape(4, -1) < 256).all(axis=1)).any()
    edges = s["images"][cases.index("padding_edges")].reshape(28, 28)
    assert edges[0].all() and edges[:, -1].all() and not edges[14, 14]
    assert (s["v_max"][:, 1] == 0).all() and (s["v_max"][:, 0] <= 25).all()


def test_conv_check_and_tampering(conv_dir, conv_ckpt, tmp):
    assert run_cli(conv_ckpt, "--check", conv_dir) == 0
    bad = tmp / "tampered"
    shutil.copytree(conv_dir, bad)
    words = (bad / "layer0.mem").read_text().splitlines()
    words[3] = f"{int(words[3], 16) ^ 1:x}"
    (bad / "layer0.mem").write_text("\n".join(words) + "\n")
    assert run_cli(conv_ckpt, "--check", bad) == 1
    with pytest.raises(ArtifactError, match="layer0.mem"):
        load_artifacts(bad)


def test_unknown_layer_kind_is_named(conv_dir, tmp):
    bad = tmp / "lstm"
    shutil.copytree(conv_dir, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["layers"][1]["kind"] = "lstm"
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="unknown layer kind 'lstm'"):
        load_artifacts(bad)


def test_hardware_refuses_conv_by_name(conv_dir):
    from hdl.network import CoreNetwork
    with pytest.raises(ArtifactError, match="layer kind 'conv'"):
        CoreNetwork.from_artifacts(load_artifacts(conv_dir))


def test_version1_dense_directory_still_loads(tmp, data_dir):
    rng = np.random.default_rng(5)
    lat = [rng.standard_normal((16, 784)).astype(np.float32),
           rng.standard_normal((10, 16)).astype(np.float32)]
    Checkpoint(lat, np.ones(2), {"mode": "binary", "theta": [4, 2], "dataset": "mnist"}).save(
        tmp / "dense.npz")
    assert run_cli(tmp / "dense.npz", "--out", tmp / "art_dense", "--vectors", "10",
                   "--data-dir", data_dir) == 0
    art = load_artifacts(tmp / "art_dense")
    assert art.manifest["schema"] == SCHEMA and art.kinds == ["dense", "dense"]
    assert "kind" not in art.manifest["layers"][0]
    assert art.rom_depth(0) == 784 and art.rom_width(0) == 16


def test_conv_bad_inputs(conv_ckpt, tmp, capsys):
    with np.load(conv_ckpt) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    for name, change, words in [("theta", {"theta": [26, 3]}, "theta[0] = 26"),
                                ("kind", {"layers": [dict(meta["layers"][0], kind="lstm")]
                                          + meta["layers"][1:]}, "'lstm'")]:
        arrays["meta"] = np.frombuffer(json.dumps(dict(meta, **change)).encode(), np.uint8)
        np.savez(tmp / f"bad_{name}.npz", **arrays)
        assert run_cli(tmp / f"bad_{name}.npz", "--out", tmp / f"out_{name}") == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0] and f"bad_{name}.npz" in err[0]
        assert not (tmp / f"out_{name}").exists()


def test_cycle_statistics_of_conv(conv_dir, capsys):
    """hdl.cycles reads conv artifacts too (the conv core's cycle model,
    hdl/conv_cycle_model.py)."""
    from hdl import cycles
    assert cycles.main([str(conv_dir), "--images", "5"]) == 0
    out = capsys.readouterr().out
    assert "default" in out and "lanes/2" in out
