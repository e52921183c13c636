"""``python -m hdl.cycles``: cycle statistics of an artifact directory from the cycle model."""
from __future__ import annotations

import json

import numpy as np
import pytest

from contract.artifacts import load_artifacts
from hdl import cycles
from hdl.core import BS4NNCore, CoreNetwork
from hdl.cycle_model import predict_cycles
from tests.small_net import export_random_net


@pytest.fixture(scope="module")
def art_dir(tmp_path_factory, data_dir):
    return export_random_net(tmp_path_factory.mktemp("cycles"), data_dir, 30)


def one_by_one(art, params: dict, full: bool, stress: bool) -> np.ndarray:
    """Each image's cycles from its own events and spikes (no batching)."""
    timing = BS4NNCore(CoreNetwork.from_artifacts(art), **params, debug_port=False).timing
    out = []
    for which in ("vectors", "stress")[:1 + stress]:
        v = getattr(art, which)
        for n in range(len(v["labels"])):
            t, _ = art.events(which, n)
            out.append(predict_cycles(t, [v[f"spikes_{l}"][n] for l in range(len(art.weights))],
                                      full=full, timing=timing))
    return np.array(out)


@pytest.mark.parametrize("stress", [False, True])
def test_table_equals_per_image_model(art_dir, stress):
    art = load_artifacts(art_dir)
    configs = [("default", {}), ("narrow", {"lanes": 8})]
    t = cycles.cycle_table(art, configs, stress=stress, mhz=50.0)
    assert t["images"] == len(art.vectors["labels"]) + stress * len(art.stress["labels"])
    assert [(r["config"], r["mode"]) for r in t["rows"]] == [
        (c, m) for c, _ in configs for m in cycles.MODES]
    for r in t["rows"]:
        want = one_by_one(art, dict(configs)[r["config"]], r["mode"] == "full", stress)
        assert r["mean"] == pytest.approx(want.mean())
        assert r["max"] == want.max() and r["p50"] == np.percentile(want, 50)
        assert r["set_s"] == pytest.approx(want.sum() / 50e6)
        assert r["images_per_s"] == pytest.approx(50e6 / want.mean())
    narrow = [r["mean"] for r in t["rows"] if r["config"] == "narrow"]
    wide = [r["mean"] for r in t["rows"] if r["config"] == "default"]
    assert all(n > w for n, w in zip(narrow, wide))        # 4 ROM reads per event, not 1


def test_cli_json_and_first_images(art_dir, capsys):
    assert cycles.main([str(art_dir), "--images", "12", "--json"]) == 0
    t = json.loads(capsys.readouterr().out)
    art = load_artifacts(art_dir)
    assert t["images"] == 12
    assert t["no_spike_share"] == pytest.approx(art.vectors["no_spike"][:12].mean())
    assert t["mean_decision_step"] == pytest.approx(art.vectors["step"][:12].mean())
    assert {r["config"] for r in t["rows"]} == {n for n, _ in cycles.standard_configs(art)}


def test_cli_table_names_every_config(art_dir, capsys):
    assert cycles.main([str(art_dir), "--config", "half:lanes=16", "--config", "tree_levels=2"]) == 0
    out = capsys.readouterr().out
    assert "half: {'lanes': 16}" in out and "tree_levels=2: {'tree_levels': 2}" in out
    assert len([ln for ln in out.splitlines() if ln.split()[1:2] in (["early"], ["full"])]) == 4


@pytest.mark.parametrize("args, message", [
    (["--images", "0"], "--images 0"),
    (["--mhz", "0"], "--mhz 0"),
    (["--config", "x:lanes"], "expected KEY=VALUE"),
    (["--config", "x:colour=1"], "--config x"),
])
def test_bad_arguments(art_dir, capsys, args, message):
    try:
        status = cycles.main([str(art_dir), *args])
    except SystemExit as exc:                  # the parser's own errors
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and len(err.splitlines()) == 1
