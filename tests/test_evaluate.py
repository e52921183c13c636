"""model.evaluate: the figures of the authors' published network, and clear errors for bad
checkpoints."""
from __future__ import annotations

import json

import numpy as np
import pytest

from model.checkpoint import Checkpoint, CheckpointError
from model.evaluate import evaluate_checkpoint, main
from model.import_authors import authors_checkpoint


@pytest.fixture(scope="module")
def authors(tmp_path_factory, reference_npz):
    path = tmp_path_factory.mktemp("ck") / "authors.npz"
    authors_checkpoint(reference_npz).save(path)
    return path


def test_authors_network_figures_json(authors, data_dir, capsys):
    assert main([str(authors), "--data-dir", str(data_dir), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["strict"] == 0.9607 and r["paper"] == 0.9693
    assert r["ties"] == 233 and r["no_spike"] == 483
    assert r["n"] == 10000 and r["dataset"] == "mnist" and r["theta"] == [25, 12]
    assert r["mean_spikes"][0] == pytest.approx(248, abs=1)    # hidden spikes per image


def test_truncated_checkpoint_is_a_checkpoint_error(authors, data_dir, tmp_path, capsys):
    bad = tmp_path / "truncated.npz"
    raw = authors.read_bytes()
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError):
        evaluate_checkpoint(bad, data_dir)
    assert main([str(bad), "--data-dir", str(data_dir)]) == 2
    assert "error:" in capsys.readouterr().err


def test_garbage_and_missing_checkpoints(data_dir, tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError):
        evaluate_checkpoint(junk, data_dir)
    with pytest.raises(CheckpointError):
        evaluate_checkpoint(tmp_path / "absent.npz", data_dir)


def test_inconsistent_checkpoint(data_dir, tmp_path):
    ck = Checkpoint([np.ones((10, 784), np.float32)], np.array([5.0]), {"theta": [21, 3]})
    path = tmp_path / "bad_theta.npz"
    ck.save(path)
    with pytest.raises(CheckpointError, match="theta"):
        evaluate_checkpoint(path, data_dir)
