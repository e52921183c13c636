"""The artifact directory: export, reader, ROM formats, atomic output, --check, stress cases."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from contract.artifacts import ArtifactError, load_artifacts
from contract.events import events_to_times, image_to_events, images_to_events
from contract.numerics import encode_latency
from contract.rom import parse_bin, parse_coe, parse_mem, words_to_weights
from export import weights as exporter
from export.golden import run_golden
from export.stress import build_stress
from model.checkpoint import Checkpoint, load_checkpoint
from model.import_authors import authors_checkpoint
from model.network import forward, forward_times


def run_cli(*args) -> int:
    return exporter.main([str(a) for a in args] + ["--quiet"])


def tree_digest(d: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


@pytest.fixture(scope="module")
def tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("export")


@pytest.fixture(scope="module")
def authors_ckpt(tmp, reference_npz) -> Path:
    p = tmp / "authors.npz"
    authors_checkpoint(reference_npz).save(p)
    return p


@pytest.fixture(scope="module")
def authors_dir(tmp, authors_ckpt, data_dir) -> Path:
    out = tmp / "art_authors"
    assert run_cli(authors_ckpt, "--out", out, "--vectors", 200, "--data-dir", data_dir) == 0
    return out


def random_ckpt(path: Path, widths=(784, 64, 32, 10), thetas=(8, 3, 2), seed=1) -> Path:
    rng = np.random.default_rng(seed)
    lat = [rng.standard_normal((widths[l + 1], widths[l])).astype(np.float32)
           for l in range(len(widths) - 1)]
    Checkpoint(lat, np.ones(len(lat)), {"mode": "binary", "thr": [100.0] * len(lat),
                                        "theta": list(thetas), "dataset": "mnist"}).save(path)
    return path


@pytest.fixture(scope="module")
def r3_ckpt(tmp) -> Path:
    return random_ckpt(tmp / "r3.npz")


@pytest.fixture(scope="module")
def r3_dir(tmp, r3_ckpt, data_dir) -> Path:
    out = tmp / "art_r3"
    assert run_cli(r3_ckpt, "--out", out, "--vectors", 100, "--data-dir", data_dir) == 0
    return out


# ----------------------------------------------------------------------------- events

def test_events_order_drop_and_empty():
    img = np.zeros(784, np.uint8)
    img[[10, 3, 700, 5]] = [200, 200, 255, 1]
    t, a = image_to_events(img)
    assert t.dtype == np.uint8 and a.dtype == np.uint16
    assert list(zip(t.tolist(), a.tolist())) == [(0, 700), (55, 3), (55, 10), (254, 5)]
    t, a = image_to_events(np.zeros(784, np.uint8))
    assert t.tolist() == [255] and a.tolist() == [0]
    rng = np.random.default_rng(0)
    imgs = (rng.integers(0, 256, (30, 784)) * (rng.random((30, 784)) < 0.3)).astype(np.uint8)
    imgs[4] = 0
    off, tt, aa = images_to_events(imgs)
    assert off[0] == 0 and off[-1] == len(tt) == len(aa)
    for n in range(30):
        t1, a1 = image_to_events(imgs[n])
        assert (tt[off[n]:off[n + 1]] == t1).all() and (aa[off[n]:off[n + 1]] == a1).all()
        s = events_to_times(t1, a1, 784)
        assert (s == encode_latency(imgs[n][None])[0]).all()
    with pytest.raises(ValueError):
        images_to_events(imgs.astype(np.int16))


# ----------------------------------------------------------------------------- round trips

def check_roundtrip(art_dir: Path, ckpt: Path, n_layers: int):
    art = load_artifacts(art_dir)
    ck = load_checkpoint(ckpt)
    assert art.n_layers == n_layers == len(ck.latent)
    assert art.widths == ck.widths and art.thetas == ck.thetas
    for l in range(n_layers):
        assert art.weights[l].dtype == np.int8
        assert art.weights[l].shape == (ck.widths[l + 1], ck.widths[l])
        assert (art.weights[l] == ck.binary_weights[l]).all()
    for vec in (art.vectors, art.stress):
        imgs = vec["images"]
        # Events -> input times -> golden forward with the ROM's weights.
        s_in = np.stack([events_to_times(*_ev(vec, n), art.widths[0]) for n in range(len(imgs))])
        assert (s_in == encode_latency(imgs)).all()
        from_rom = forward_times(s_in, art.weights, art.thetas)
        from_ck = forward(imgs, ck.binary_weights, ck.thetas)
        for l in range(n_layers):
            assert (vec[f"spikes_{l}"] == from_rom.spikes[l]).all()
            assert (vec[f"spikes_{l}"] == from_ck.spikes[l]).all()
        assert f"spikes_{n_layers}" not in vec
        for r in (from_rom, from_ck):
            assert (vec["label"] == r.decision.label).all()
            assert (vec["step"] == r.decision.step).all()
            assert (vec["tie"] == r.decision.tie).all()
            assert (vec["no_spike"] == r.decision.no_spike).all()
            assert (vec["v_final"] == r.v_final).all()
    return art


def _ev(vec, n):
    lo, hi = vec["ev_offsets"][n], vec["ev_offsets"][n + 1]
    return vec["ev_time"][lo:hi], vec["ev_addr"][lo:hi]


def test_roundtrip_authors(authors_dir, authors_ckpt):
    art = check_roundtrip(authors_dir, authors_ckpt, 2)
    m = art.manifest
    assert m["schema"] == "bs4nn-artifacts/1"
    assert [x["theta"] for x in m["layers"]] == [25, 12]
    assert [x["acc_bits"] for x in m["layers"]] == [11, 11]
    assert m["accuracy"]["strict"] == pytest.approx(0.9607)
    assert m["accuracy"]["paper"] == pytest.approx(0.9693)
    assert m["accuracy"]["count"] == 10000
    assert m["vectors"]["vectors"]["count"] == 200 == len(art.vectors["labels"])
    assert m["source"]["sha256"] == hashlib.sha256(authors_ckpt.read_bytes()).hexdigest()
    assert m["source"]["dataset"] == "mnist"
    # The first 200 MNIST test images, with their labels.
    assert (art.vectors["labels"][:5] == [7, 2, 1, 0, 4]).all()


def test_roundtrip_three_layers(r3_dir, r3_ckpt):
    art = check_roundtrip(r3_dir, r3_ckpt, 3)
    assert [x["acc_bits"] for x in art.manifest["layers"]] == [11, 8, 7]
    assert art.vectors["spikes_2"].shape == (100, 10)
    assert art.rom_depth(1) == 64 and art.rom_width(1) == 32


def test_rom_formats_agree(authors_dir, r3_dir):
    for d in (authors_dir, r3_dir):
        art = load_artifacts(d)
        for l, lay in enumerate(art.manifest["layers"]):
            w, dp = lay["rom"]["width"], lay["rom"]["depth"]
            mem = parse_mem(d / f"layer{l}.mem", w, dp)
            assert parse_coe(d / f"layer{l}.coe", w, dp) == mem
            assert parse_bin(d / f"layer{l}.bin", w, dp) == mem == art.rom_words(l)
            assert (words_to_weights(mem, w) == art.weights[l]).all()
            # bit j of word i is the weight input i -> neuron j, 1 = +1
            i, j = 3, w - 1
            assert ((mem[i] >> j) & 1) == (art.weights[l][j, i] == 1)
            lines = (d / f"layer{l}.mem").read_text().splitlines()
            assert len(lines) == dp and all(len(x) == (w + 3) // 4 for x in lines)
            assert (d / f"layer{l}.bin").stat().st_size == dp * ((w + 7) // 8)


# ----------------------------------------------------------------------------- tampering

def test_tampered_rom_names_file(authors_dir, tmp):
    bad = tmp / "tampered"
    shutil.copytree(authors_dir, bad)
    p = bad / "layer0.mem"
    text = p.read_text()
    p.write_text(("1" if text[0] != "1" else "2") + text[1:])
    with pytest.raises(ArtifactError, match=r"layer0\.mem.*sha256"):
        load_artifacts(bad)
    shutil.rmtree(bad)


def test_missing_file_and_bad_manifest(r3_dir, tmp):
    import json
    bad = tmp / "bad"
    shutil.copytree(r3_dir, bad)
    (bad / "layer1.coe").unlink()
    with pytest.raises(ArtifactError, match=r"layer1\.coe: missing"):
        load_artifacts(bad)
    shutil.rmtree(bad)
    shutil.copytree(r3_dir, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["layers"][1]["rom"]["depth"] = 63
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match=r"depth"):
        load_artifacts(bad)
    m["layers"][1]["rom"]["depth"] = 64
    m["layers"][1]["rom"]["files"]["bin"]["bytes"] += 1
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match=r"layer1\.bin.*bytes"):
        load_artifacts(bad)
    shutil.rmtree(bad)
    with pytest.raises(ArtifactError, match="no such"):
        load_artifacts(tmp / "nowhere")


def test_check_passes_then_fails_after_tampering(authors_dir, authors_ckpt, tmp, capsys):
    assert run_cli(authors_ckpt, "--check", authors_dir) == 0
    bad = tmp / "tampered_bin"
    shutil.copytree(authors_dir, bad)
    raw = bytearray((bad / "layer1.bin").read_bytes())
    raw[2] ^= 0x01                     # word 1 (2 bytes per word), neuron 0
    (bad / "layer1.bin").write_bytes(bytes(raw))
    capsys.readouterr()
    assert run_cli(authors_ckpt, "--check", bad) == 1
    err = capsys.readouterr().err
    assert "layer1.bin" in err and "first word 1" in err and "[0]" in err
    shutil.rmtree(bad)


# ----------------------------------------------------------------------------- atomic output

def test_existing_export_refused_and_force(tmp, r3_ckpt, data_dir, capsys):
    out = tmp / "art_atomic"
    assert run_cli(r3_ckpt, "--out", out, "--vectors", 20, "--data-dir", data_dir) == 0
    before = tree_digest(out)
    # Identical export: left as is.
    assert run_cli(r3_ckpt, "--out", out, "--vectors", 20, "--data-dir", data_dir) == 0
    assert tree_digest(out) == before
    capsys.readouterr()
    # Different export: refused, unchanged on disk.
    assert run_cli(r3_ckpt, "--out", out, "--vectors", 30, "--data-dir", data_dir) == 2
    assert "--force" in capsys.readouterr().err
    assert tree_digest(out) == before
    # A folder holding something else: refused too.
    other = tmp / "not_an_export"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert run_cli(r3_ckpt, "--out", other, "--vectors", 20, "--data-dir", data_dir) == 2
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    # --force replaces.
    assert run_cli(r3_ckpt, "--out", out, "--vectors", 30, "--data-dir", data_dir, "--force") == 0
    assert load_artifacts(out).manifest["vectors"]["vectors"]["count"] == 30
    assert not [p for p in tmp.iterdir() if p.name.startswith(".")]   # no temp dirs left


def test_corrupt_checkpoint_leaves_nothing(tmp, r3_ckpt, data_dir, capsys):
    bad = tmp / "corrupt.npz"
    bad.write_bytes(r3_ckpt.read_bytes()[:5000])
    out = tmp / "art_corrupt"
    assert run_cli(bad, "--out", out, "--vectors", 10, "--data-dir", data_dir) == 2
    err = capsys.readouterr().err
    assert "corrupt.npz" in err and "checkpoint" in err
    assert not out.exists()
    assert not [p for p in tmp.iterdir() if p.name.startswith(".art_corrupt")]
    assert run_cli(tmp / "absent.npz", "--out", out, "--data-dir", data_dir) == 2
    assert not out.exists()


# ----------------------------------------------------------------------------- stress vectors

def test_stress_cases_authors(authors_dir):
    art = load_artifacts(authors_dir)
    s = art.stress
    cases = list(s["case"])
    for name in ("all_zero", "single_pixel", "all_255_step0", "all_128_step127",
                 "all_1_step254", "vmax_layer0", "vmin_layer0", "no_spike_test", "tie_test",
                 "tie_equal_v_test"):
        assert name in cases, name
    k = {c: i for i, c in enumerate(cases)}
    assert (s["images"][k["all_zero"]] == 0).all() and s["no_spike"][k["all_zero"]]
    assert (s["ev_offsets"][k["all_zero"] + 1] - s["ev_offsets"][k["all_zero"]]) == 1
    assert (s["images"][k["single_pixel"]] > 0).sum() == 1
    t, _ = _ev(s, k["all_255_step0"])
    assert len(t) == 784 and (t == 0).all()
    t, _ = _ev(s, k["all_128_step127"])
    assert (t == 127).all()
    assert s["no_spike"][k["no_spike_test"]] and s["labels"][k["no_spike_test"]] >= 0
    assert s["tie"][k["tie_test"]] and s["tie"][k["tie_equal_v_test"]]
    # Accumulator limits: the authors' layer 0 has neurons whose 784 weights are all +1.
    assert s["v_max"][:, 0].max() == 784
    assert s["v_min"][k["vmin_layer0"], 0] < -250
    assert len(art.manifest["vectors"]["stress"]["cases"]) == len(cases)


def test_stress_cases_three_layers(r3_dir):
    s = load_artifacts(r3_dir).stress
    assert s["no_spike"].any() and s["tie"].any()
    assert s["v_max"].shape == (len(s["labels"]), 3)


def test_stress_against_literal_loop(authors_dir):
    """Independent of model.layer: step the stress images' events through a literal time loop."""
    from tests.naive import naive_decide, naive_layer
    art = load_artifacts(authors_dir)
    s = art.stress
    x = np.stack([events_to_times(*_ev(s, n), art.widths[0]) for n in range(len(s["labels"]))])
    for l in range(art.n_layers):
        x, v_cross, v = naive_layer(x, art.weights[l], art.thetas[l])
        assert (s[f"spikes_{l}"] == x).all(), l
    label, step = naive_decide(x, v_cross, v)
    assert (s["label"] == label).all() and (s["step"] == step).all()
    assert (s["v_final"] == v).all()


def test_stress_tie_search_when_test_set_has_none(r3_ckpt):
    """With no tie (and no no-spike) among the 'test' images, ties are found by search."""
    ck = load_checkpoint(r3_ckpt)
    rng = np.random.default_rng(5)
    imgs = (rng.integers(0, 256, (50, 784)) * (rng.random((50, 784)) < 0.2)).astype(np.uint8)
    g = run_golden(imgs, ck.binary_weights, ck.thetas)
    g["tie"][:] = False
    g["no_spike"][:] = False
    s_img, s_lab, meta = build_stress(ck.binary_weights, ck.thetas, imgs,
                                      np.zeros(50, np.uint8), g)
    cases = [m["case"] for m in meta]
    assert "tie_search" in cases and "no_spike_test" not in cases
    gs = run_golden(s_img, ck.binary_weights, ck.thetas)
    assert gs["tie"][cases.index("tie_search")]
    assert gs["no_spike"][cases.index("all_zero")]
    assert s_lab[cases.index("tie_search")] == -1
