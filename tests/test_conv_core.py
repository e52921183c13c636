"""The conv core (hdl/conv_core.py; docs/core.md, "Convolutional layers").

On Icarus, through sim.regress's bench: a small two-stage conv network (padding, pooling
with a remainder row and column, a spike queue, a stage without pooling, one and two
channel lanes) on test images and the export's stress cases, every spike, class and cycle count against the golden vectors and
the cycle model (hdl/conv_cycle_model.py), in both modes. Without a simulator: the cycle
statistics of a conv artifact directory, the scoreboard's (channel, row, column) names,
and the layer lists the core refuses by name.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from contract.errors import ArtifactError
from hdl.conv_network import ConvNetwork
from sim.scoreboard import check_image

SPEC = "conv2k3p1,pool3,conv3k3,fc10"      # 28x28 -> 2x28x28 -> 2x9x9 -> 3x7x7 -> 10
THETAS = [4, 5, 4]


@pytest.fixture(scope="module")
def conv_art(tmp_path_factory, data_dir) -> Path:
    """A random conv network (fixed seed; kernels biased towards +1 so that every layer
    fires) exported with 4 test vectors and its stress cases."""
    from export import weights as exporter
    from model.arch import parse_arch, to_dicts
    from model.checkpoint import Checkpoint
    arch = parse_arch(SPEC)
    rng = np.random.default_rng(7)
    lat = [(rng.standard_normal(l.weight_shape) + (0.6 if l.kind == "conv" else 0.0))
           .astype(np.float32) for l in arch if l.has_weights]
    tmp = tmp_path_factory.mktemp("conv_core")
    Checkpoint(lat, np.ones(len(lat)), {"mode": "binary", "theta": THETAS, "dataset": "mnist",
                                        "layers": to_dicts(arch), "arch": SPEC}).save(tmp / "net.npz")
    out = tmp / "art"
    assert exporter.main([str(tmp / "net.npz"), "--out", str(out), "--vectors", "4",
                          "--data-dir", str(data_dir), "--quiet"]) == 0
    return out


def regress(art, tmp_path, name, *args) -> dict:
    """sim.regress on Icarus; its JSON summary, asserting exit status 0."""
    from sim.regress import main
    rep = tmp_path / f"{name}.json"
    rc = main([str(art), "--simulator", "icarus", *map(str, args), "--json", str(rep),
               "--quiet", "--plots", str(tmp_path / "plots")])
    out = json.loads(rep.read_text())
    assert rc == 0, out["mismatches"][:3] or out["cycle_messages"][:3]
    return out["summary"]


@pytest.mark.icarus
@pytest.mark.parametrize("mode, lanes", [("full", 2), ("early", 1)])
def test_conv_core_icarus(conv_art, tmp_path, mode, lanes):
    """Every image's class and cycle count (= the cycle model), every spike of every layer
    (pooling included), with random idle cycles and back-pressure on every other image;
    2 lanes: channel groups of 2 and a partial one, 1 lane: 2 and 3 cycles per event."""
    if not shutil.which("iverilog"):
        pytest.skip("iverilog not installed")
    s = regress(conv_art, tmp_path, mode, "--mode", mode, "--random-every", 2,
                "--strict-cycles", "--lanes", lanes)
    from contract.artifacts import load_artifacts
    art = load_artifacts(conv_art)
    assert s["mismatches"] == 0 and s["cycle_differences"] == 0
    assert s["vector_images"] == 4 and s["stress_images"] == len(art.stress["label"])
    assert s["cycle_model_agrees"] == f"{s['images']}/{s['images']}"
    assert s["debug_spikes_checked"] > 0


def test_cycle_table_of_a_conv_network(conv_art):
    """hdl.cycles runs on conv artifacts: per configuration and mode, the cycle model's
    statistics (full mode never shorter than early mode)."""
    from contract.artifacts import load_artifacts
    from hdl.cycles import cycle_table, standard_configs
    art = load_artifacts(conv_art)
    t = cycle_table(art, standard_configs(art), stress=True)
    rows = {(r["config"], r["mode"]): r for r in t["rows"]}
    assert ("default", "early") in rows and ("lanes/2", "full") in rows
    for (name, mode), r in rows.items():
        if mode == "full":
            assert r["mean"] >= rows[(name, "early")]["mean"] > 0
    assert rows[("lanes/2", "full")]["mean"] > rows[("default", "full")]["mean"]


def test_scoreboard_names_conv_neurons_by_channel_row_column():
    g = {"spikes_0": np.array([[256] * 7 + [3] + [256] * 10], np.int16),
         "spikes_1": np.array([[5, 256]], np.int16),
         "label": np.array([0], np.int16), "step": np.array([4], np.int16),
         "tie": np.array([False]), "no_spike": np.array([False])}
    res = {"label": 0, "step": 4, "tie": 0, "no_spike": 0, "cycles": 0, "times": [5, 256]}
    c = check_image("vectors#2", g, 0, res, [(1, 0, 5)], "full", shapes=[(2, 3, 3), (2,)])
    assert any("vectors#2: layer 0 channel 0 row 2 column 1 no spike, model says 3" in m
               for m in c.messages)


def fake_art(kinds_geometry) -> SimpleNamespace:
    """Artifacts-like object of the given layer dicts (conv kernels all +1)."""
    layers, widths, thetas, accs = [], [784], [], []
    for d in kinds_geometry:
        layers.append(d)
        widths.append(int(np.prod(d["out_shape"])))
        thetas.append(None if d["kind"] == "pool" else 2)
        accs.append(None if d["kind"] == "pool" else 0)
    return SimpleNamespace(layers=layers, kinds=[d["kind"] for d in layers], widths=widths,
                           thetas=thetas, acc_bits=accs, rom_words=lambda l: [1] * 9)


@pytest.mark.parametrize("layers, words", [
    ([{"kind": "conv", "in_shape": [1, 28, 28], "out_shape": [1, 13, 13], "kernel": 3,
       "stride": 2, "pad": 0}], "stride 2"),
    ([{"kind": "conv", "in_shape": [1, 28, 28], "out_shape": [1, 26, 26], "kernel": 3,
       "stride": 1, "pad": 0},
      {"kind": "pool", "in_shape": [1, 26, 26], "out_shape": [1, 6, 6], "kernel": 4}],
     r"layers\[1\] \(pool\): window 4 is wider than the conv kernel 3"),
    ([{"kind": "dense", "in_shape": [784], "out_shape": [10]}], r"layers\[0\] is 'dense'"),
])
def test_unsupported_layer_lists_are_named(layers, words):
    with pytest.raises(ArtifactError, match=words):
        ConvNetwork.from_artifacts(fake_art(layers))


def test_fit_check_names_what_does_not_fit(conv_art):
    """hdl.build's fit check for a conv network: every memory on its own line; on a board
    too small it refuses naming the largest memories; a board short of logic gets fewer
    conv lanes (the network picks the configuration)."""
    from dataclasses import replace
    from contract.artifacts import load_artifacts
    from hdl.boards import BOARDS, board_core_params
    from hdl.fit import fit_check
    art = load_artifacts(conv_art)
    arty = BOARDS["arty"]
    params = {**board_core_params(arty, art, {}), "debug_port": False}
    ok, lines = fit_check(art, params, arty, arty.event_capacity, arty.image_capacity)
    text = "\n".join(lines)
    assert ok and "layer 0 kernel ROM" in text and "spike queue 0 -> 1" in text
    tiny = replace(arty, brams=3)
    ok, lines = fit_check(art, params, tiny, tiny.event_capacity, tiny.image_capacity)
    assert not ok and "DOES NOT FIT" in lines[-1] and "(largest: " in lines[-1]
    assert board_core_params(arty, art, {})["lanes"] is None
    assert board_core_params(replace(arty, luts=3000), art, {})["lanes"] in (1, 2)
    assert board_core_params(replace(arty, luts=3000), art, {"lanes": 3})["lanes"] == 3
