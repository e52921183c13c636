"""model.evaluate: the authors' reference figures, and clear errors for bad checkpoints."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from model.checkpoint import Checkpoint, CheckpointError
from model.evaluate import evaluate_checkpoint, main
from model.import_reference import reference_checkpoint

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BS4NN_DATA", ROOT.parent / "shared" / "data"))
REFERENCE = ROOT.parent / "shared" / "reference" / "bs4nn_authors_mnist.npz"


@pytest.fixture(scope="module")
def authors(tmp_path_factory):
    if not REFERENCE.exists() or not DATA.exists():
        pytest.skip("reference weights or dataset not available")
    path = tmp_path_factory.mktemp("ck") / "authors.npz"
    reference_checkpoint(REFERENCE).save(path)
    return path


def test_authors_reference_figures_json(authors, capsys):
    assert main([str(authors), "--data-dir", str(DATA), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["strict"] == 0.9607 and r["paper"] == 0.9693
    assert r["ties"] == 233 and r["no_spike"] == 483
    assert r["n"] == 10000 and r["dataset"] == "mnist" and r["theta"] == [25, 12]
    assert r["mean_spikes"][0] == pytest.approx(248, abs=1)    # SPEC section 7


def test_truncated_checkpoint_is_a_checkpoint_error(authors, tmp_path, capsys):
    bad = tmp_path / "truncated.npz"
    raw = authors.read_bytes()
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError):
        evaluate_checkpoint(bad, DATA)
    assert main([str(bad), "--data-dir", str(DATA)]) == 2
    assert "error:" in capsys.readouterr().err


def test_garbage_and_missing_checkpoints(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError):
        evaluate_checkpoint(junk, DATA)
    with pytest.raises(CheckpointError):
        evaluate_checkpoint(tmp_path / "absent.npz", DATA)


def test_inconsistent_checkpoint(tmp_path):
    ck = Checkpoint([np.ones((10, 784), np.float32)], np.array([5.0]), {"theta": [21, 3]})
    path = tmp_path / "bad_theta.npz"
    ck.save(path)
    with pytest.raises(CheckpointError, match="theta"):
        evaluate_checkpoint(path, DATA)
