"""The hardware ensemble (hdl/ensemble.py) in Icarus: every member and the vote, bit-exact."""
from __future__ import annotations

import numpy as np
import pytest

from hdl.ensemble import ensemble_cycles
from sim import ensemble as sim_ensemble
from sim.ensemble_bench import model_vote
from tests.small_net import export_random_net


@pytest.fixture(scope="module")
def members(tmp_path_factory, data_dir):
    d = tmp_path_factory.mktemp("ensemble")
    return [export_random_net(d / f"m{k}", data_dir, 40, seed=k + 11) for k in range(3)]


def test_vote_is_the_majority_lowest_class_on_a_tie():
    assert model_vote([3, 1, 3], 10) == (3, 2)
    assert model_vote([7, 2, 5], 10) == (2, 1)          # three-way tie: the lowest class
    assert model_vote([4, 4, 4], 10) == (4, 3)
    assert ensemble_cycles([90, 120, 100], {"ensemble_delay": 4}) == 124


@pytest.mark.parametrize("mode", ["early", "full"])
def test_ensemble_is_bit_exact_in_icarus(members, mode, tmp_path, capsys):
    for k in range(3):
        (tmp_path / "set" / f"sample{k}").parent.mkdir(exist_ok=True)
        (tmp_path / "set" / f"sample{k}").symlink_to(members[k].resolve())
    out = tmp_path / "r.json"
    rc = sim_ensemble.main([str(tmp_path / "set"), "--simulator", "icarus", "--images", "40",
                            "--mode", mode, "--debug-every", "2", "--random-every", "3",
                            "--quiet", "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    import json
    s = json.loads(out.read_text())["summary"]
    assert s["mismatches"] == 0 and s["cycle_differences"] == 0
    assert s["vector_images"] == 40 and s["vote_ties"] > 0     # the tie rule is exercised
    assert s["cycle_model_agrees"] == f"{s['images']}/{s['images']}"
    assert s["debug_spikes_checked"] > 0
    assert s["hw_vote_strict_accuracy"] == s["model_vote_strict_accuracy"]


def test_bad_ensembles_are_refused_in_one_line(members, data_dir, tmp_path, capsys):
    from hdl import ensemble_fit
    other = export_random_net(tmp_path / "wide", data_dir, 5, widths=(784, 16, 10), thetas=(8, 2))
    cases = [[str(tmp_path / "missing")],                       # no such directory
             [str(tmp_path)],                                   # no sample<k> folders
             [str(members[0]), str(other)],                     # shapes differ
             [str(members[0]), "--members", "2"]]               # more members than given
    for args in cases:
        assert sim_ensemble.main(args + ["--simulator", "icarus"]) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), err
    assert ensemble_fit.main([str(tmp_path / "missing")]) == 2
    assert ensemble_fit.main([str(members[0]), "--board", "ulx3s"]) == 0
    out = capsys.readouterr().out
    assert "ulx3s" in out and "members" in out
