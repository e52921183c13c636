"""The conv networks in pretrained/ reproduce, through the golden model on the whole test
set, the test figures their checkpoints recorded when training ended, and stay at or above a
floor just under the accuracy the README quotes for each."""
from __future__ import annotations

from pathlib import Path

import pytest

from model.checkpoint import load_checkpoint
from model.evaluate import evaluate_checkpoint

ROOT = Path(__file__).resolve().parents[1]

# file, mode, floor of its strict test accuracy (the README quotes 0.9899, 0.9928, 0.9796)
NETWORKS = [
    ("mnist-conv32-64.npz", "binary", 0.986),
    ("mnist-conv32-64-real.npz", "real", 0.986),
    ("mnist-conv16-32.npz", "binary", 0.979),
]


@pytest.mark.parametrize("name,mode,floor", NETWORKS)
def test_pretrained_conv_network_reproduces_its_record(name, mode, floor, data_dir):
    path = ROOT / "pretrained" / name
    ck = load_checkpoint(path)
    r = evaluate_checkpoint(path, data_dir)
    assert r["mode"] == mode and r["n"] == 10_000
    assert ck.arch[0].kind == "conv"
    assert r["strict"] == pytest.approx(ck.meta["test"]["strict"], abs=1e-9)
    assert r["paper"] == pytest.approx(ck.meta["test"]["paper"], abs=1e-9)
    assert r["strict"] >= floor
