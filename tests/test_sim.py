"""sim/: scoreboard rules (no simulator) and cocotb regressions of the generated core.

Default run (Icarus): the authors' network on the first 300 MNIST test images + the stress
vectors in early mode; a 784-64-10 cut of it, 40 images in full mode; a random
three-weight-layer network in both modes. `-m slow`: the authors' network on Verilator,
the whole test set in early mode and 1,000 images in full mode.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from contract.numerics import expected_times
from sim.scoreboard import check_image


# ----------------------------------------------------------------------------- scoreboard

def golden_one(step=9, label=1):
    """One image: hidden layer of 5, output of 3; output neuron 1 wins at step 9 (time 10)."""
    return {"spikes_0": np.array([[3, 256, 10, 11, 40]], np.int16),
            "spikes_1": np.array([[12, 10, 256]], np.int16),
            "label": np.array([label], np.int16), "step": np.array([step], np.int16),
            "tie": np.array([False]), "no_spike": np.array([False])}


def hw_result(g, mode, **over):
    r = {"label": 1, "step": 9, "tie": 0, "no_spike": 0, "cycles": 0,
         "times": expected_times(g["spikes_1"][0], 9, 1, 2, mode).tolist()}
    r.update(over)
    return r


def spikes_of(g, lim):
    return [(l, j, int(t)) for l in range(2) for j, t in enumerate(g[f"spikes_{l}"][0]) if t <= lim]


def test_expected_times_early_and_full():
    assert expected_times(np.array([12, 10, 256]), 9, 1, 2, "early").tolist() == [256, 10, 256]
    assert expected_times(np.array([12, 10, 256]), 9, 1, 2, "full").tolist() == [12, 10, 256]


def test_perfect_hardware_passes_both_modes():
    g = golden_one()
    assert check_image("t#0", g, 0, hw_result(g, "early"), spikes_of(g, 10), "early").ok
    assert check_image("t#0", g, 0, hw_result(g, "full"), spikes_of(g, 255), "full").ok
    # early mode: spikes after step + 1 may be reported, if they are right
    assert check_image("t#0", g, 0, hw_result(g, "early"), spikes_of(g, 255), "early").ok


def test_mismatch_names_image_layer_neuron_times_and_step():
    g = golden_one()
    sp = spikes_of(g, 10)
    sp[0] = (0, 0, 4)                      # hidden neuron 0 fired at 4, model says 3
    c = check_image("vectors#17", g, 0, hw_result(g, "early"), sp, "early")
    assert not c.ok and c.first_part == 3
    assert any("vectors#17: layer 0 neuron 0 fired at 4, model says 3" in m for m in c.messages)
    assert "first part at time step 3" in c.messages[0]


def test_missing_late_wrong_and_duplicate_spikes():
    g = golden_one()
    sp = [s for s in spikes_of(g, 10) if s[:2] != (0, 0)]          # drop hidden 0 (t=3)
    c = check_image("x#0", g, 0, hw_result(g, "early"), sp, "early")
    assert any("layer 0 neuron 0 no spike, model says 3" in m for m in c.messages)
    # a hidden spike at step + 1 crossed at the decision step: not required in early mode
    sp = [s for s in spikes_of(g, 10) if s[:2] != (0, 2)]
    assert check_image("x#0", g, 0, hw_result(g, "early"), sp, "early").ok
    sp = [s for s in spikes_of(g, 10) if s[:2] != (1, 1)]          # the winner must be there
    assert not check_image("x#0", g, 0, hw_result(g, "early"), sp, "early").ok
    c = check_image("x#0", g, 0, hw_result(g, "early"), spikes_of(g, 10) + [(0, 4, 39)], "early")
    assert any("layer 0 neuron 4 fired at 39, model says 40" in m for m in c.messages)
    c = check_image("x#0", g, 0, hw_result(g, "early"), spikes_of(g, 10) + [(0, 0, 3)], "early")
    assert any("spiked twice" in m for m in c.messages)
    # full mode needs every spike
    c = check_image("x#0", g, 0, hw_result(g, "full"), spikes_of(g, 10), "full")
    assert any("layer 0 neuron 3 no spike, model says 11" in m for m in c.messages)


def test_decision_and_times_mismatch():
    g = golden_one()
    c = check_image("x#0", g, 0, hw_result(g, "early", label=2, times=[256, 11, 256]), [], "early",
                    debug=False)
    assert any("decision label is 2, model says 1" in m for m in c.messages)
    assert any("o_result times: layer 1 neuron 1 fired at 11, model says 10" in m for m in c.messages)


def test_merge_reports_keeps_the_image_order():
    from sim.build import merge_reports
    images = [("stress", 0), ("vectors", 0), ("vectors", 1), ("vectors", 2)]
    shard = lambda part, wall, stop: {
        "records": [{"set": s, "index": n} for s, n in part], "wall_s": wall,
        "sim_cycles": 10 * len(part), "stopped": stop}
    rep = merge_reports(images, [shard(images[1::2], 2.0, None), shard(images[0::2], 3.0, "limit")])
    assert [(r["set"], r["index"]) for r in rep["records"]] == images
    assert rep["wall_s"] == 3.0 and rep["sim_cycles"] == 40 and rep["jobs"] == 2
    assert rep["stopped"] == "limit" and rep["requested"] == 4


def test_payload_layouts_roundtrip():
    from hdl.core import BS4NNCore, CoreNetwork
    from sim.layout import Unpacker, pack, port_layouts
    rng = np.random.default_rng(0)
    w = [np.where(rng.random((8, 16)) < .5, -1, 1), np.where(rng.random((3, 8)) < .5, -1, 1)]
    lay = port_layouts(BS4NNCore(CoreNetwork.from_weights(w, [2, 1])))
    f = lay["o_result"]["fields"]
    x = pack(f, label=2, step=200, tie=1, cycles=12345, **{"times[1]": 256, "times[2]": 7})
    d = Unpacker(f)(x)
    assert (d["label"], d["step"], d["tie"], d["no_spike"], d["cycles"]) == (2, 200, 1, 0, 12345)
    assert d["times"] == [0, 256, 7]
    assert set(lay["i_event"]["fields"]) == {"time", "addr", "last"}


# ----------------------------------------------------------------------------- cocotb runs
#
# Icarus simulates the authors' full 784-600-10 core at ~850 cycles per second on this
# 2-core machine: the default run takes 300 images of it (spikes on every third), and
# smaller networks for full mode and three layers; the whole test set runs on Verilator
# under the `slow` marker (benchmarks/results/sim_*.txt).

def export(ckpt, out: Path, data_dir, vectors: int) -> Path:
    from export import weights as exporter
    assert exporter.main([str(ckpt), "--out", str(out), "--vectors", str(vectors),
                          "--data-dir", str(data_dir), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def sub64_art(tmp_path_factory, reference_npz, data_dir) -> Path:
    """The authors' network cut to its first 64 hidden neurons (784-64-10, theta 25 / 3)."""
    from model.checkpoint import Checkpoint
    from model.import_authors import authors_checkpoint
    ref = authors_checkpoint(reference_npz)
    w0, w1 = ref.latent
    tmp = tmp_path_factory.mktemp("sim")
    ckpt = tmp / "sub64.npz"
    Checkpoint([w0[:64], w1[:, :64]], ref.fact, {**ref.meta, "theta": [25, 3]}).save(ckpt)
    return export(ckpt, tmp / "art_sub64", data_dir, 300)


@pytest.fixture(scope="module")
def r3_art(tmp_path_factory, data_dir) -> Path:
    """A random three-weight-layer network, 784-32-16-10."""
    from model.checkpoint import Checkpoint
    rng = np.random.default_rng(3)
    widths = (784, 32, 16, 10)
    lat = [rng.standard_normal((widths[l + 1], widths[l])).astype(np.float32) for l in range(3)]
    tmp = tmp_path_factory.mktemp("sim")
    ckpt = tmp / "r3.npz"
    Checkpoint(lat, np.ones(3), {"mode": "binary", "thr": [100.0] * 3, "theta": [8, 3, 2],
                                 "dataset": "mnist"}).save(ckpt)
    return export(ckpt, tmp / "art_r3", data_dir, 40)


def authors_export(tmp_path_factory, reference_npz, data_dir, vectors: int) -> Path:
    from model.import_authors import authors_checkpoint
    tmp = tmp_path_factory.mktemp("sim")
    ckpt = tmp / "authors.npz"
    authors_checkpoint(reference_npz).save(ckpt)
    return export(ckpt, tmp / "art_authors", data_dir, vectors)


@pytest.fixture(scope="module")
def authors300_art(tmp_path_factory, reference_npz, data_dir) -> Path:
    return authors_export(tmp_path_factory, reference_npz, data_dir, 300)


@pytest.fixture(scope="module")
def authors_art(tmp_path_factory, reference_npz, data_dir) -> Path:
    return authors_export(tmp_path_factory, reference_npz, data_dir, 10000)


def need(tool: str):
    if tool == "icarus" and not shutil.which("iverilog"):
        pytest.skip("iverilog not installed")


def regress(art, tmp_path, name, *args) -> dict:
    """Run sim.regress; returns its JSON report, asserting exit status 0."""
    import json
    from sim.regress import main
    rep = tmp_path / f"{name}.json"
    rc = main([str(art), *map(str, args), "--json", str(rep), "--quiet",
               "--plots", str(tmp_path / "plots")])
    out = json.loads(rep.read_text())
    assert rc == 0, out["mismatches"][:3] or out["cycle_messages"][:3]
    return out["summary"]


@pytest.mark.icarus
def test_icarus_authors_early_300_images_and_stress(authors300_art, tmp_path):
    """The authors' 784-600-10 network: every image's result and cycle count, every third
    image's spikes (Icarus runs this core at ~850 cycles/s here), in two simulator processes."""
    need("icarus")
    s = regress(authors300_art, tmp_path, "early", "--simulator", "icarus", "--mode", "early",
                "--debug-every", 3, "--random-every", 3, "--strict-cycles", "--jobs", 2)
    assert s["jobs"] == 2
    assert s["mismatches"] == 0 and s["cycle_differences"] == 0
    assert s["vector_images"] == 300 and s["stress_images"] > 0
    assert s["hw_strict_accuracy"] == s["model_strict_accuracy"]
    assert s["randomised_images"] >= 30 and s["debug_pass_images"] >= 100
    assert s["cycle_model_agrees"] == f"{s['images']}/{s['images']}"


@pytest.mark.icarus
def test_icarus_full_mode(sub64_art, tmp_path):
    need("icarus")
    s = regress(sub64_art, tmp_path, "full", "--simulator", "icarus", "--mode", "full",
                "--images", 40, "--random-every", 4, "--strict-cycles")
    assert s["mismatches"] == 0 and s["images"] >= 40 and s["randomised_images"] >= 10


@pytest.mark.icarus
def test_icarus_dsp48_counters(sub64_art, tmp_path):
    """The Arty configuration: 48 of the 64 first-layer counters in DSP48E1 SIMD lanes (the
    primitive simulated by Yosys's own model of it), 6:3 counters in the trees; every spike
    of 40 images in full mode and every decision and cycle count in early mode."""
    need("icarus")
    arty = ("--dsp-neurons", 48, "--tree-counter", 6, "--tree-levels", 3)
    s = regress(sub64_art, tmp_path, "dsp_full", "--simulator", "icarus", "--mode", "full",
                "--images", 40, "--random-every", 4, "--strict-cycles", *arty)
    assert s["mismatches"] == 0 and s["cycle_differences"] == 0 and s["images"] >= 40
    s = regress(sub64_art, tmp_path, "dsp_early", "--simulator", "icarus", "--mode", "early",
                "--images", 100, "--passes", "fast", "--strict-cycles", *arty)
    assert s["mismatches"] == 0 and s["cycle_differences"] == 0 and s["images"] >= 100


@pytest.mark.icarus
@pytest.mark.parametrize("mode", ["early", "full"])
def test_icarus_three_layers(r3_art, tmp_path, mode):
    need("icarus")
    s = regress(r3_art, tmp_path, mode, "--simulator", "icarus", "--mode", mode,
                "--random-every", 3, "--strict-cycles")
    assert s["mismatches"] == 0 and s["cycle_differences"] == 0 and s["images"] >= 40


@pytest.mark.slow
@pytest.mark.verilator
def test_verilator_authors_whole_test_set(authors_art, tmp_path):
    s = regress(authors_art, tmp_path, "early", "--simulator", "verilator", "--mode", "early",
                "--debug-every", 10, "--random-every", 5, "--max-failures", 5, "--jobs", 2)
    assert s["mismatches"] == 0 and s["vector_images"] == 10000
    assert s["hw_strict_accuracy"] == s["model_strict_accuracy"] == 0.9607


@pytest.mark.slow
@pytest.mark.verilator
def test_verilator_authors_full_mode_1000(authors_art, tmp_path):
    s = regress(authors_art, tmp_path, "full", "--simulator", "verilator", "--mode", "full",
                "--images", 1000, "--debug-every", 10, "--random-every", 5, "--max-failures", 5, "--jobs", 2)
    assert s["mismatches"] == 0 and s["vector_images"] == 1000
