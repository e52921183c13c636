"""Shared fixtures: where the datasets and the authors' reference network live."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BS4NN_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = Path(os.environ.get("BS4NN_DATA", SHARED / "data"))
    if not (d / "mnist").is_dir():
        pytest.fail(f"MNIST not found under {d}: set BS4NN_DATA to the folder holding mnist/")
    return d


@pytest.fixture(scope="session")
def reference_npz() -> Path:
    p = SHARED / "reference" / "bs4nn_authors_mnist.npz"
    if not p.is_file():
        pytest.fail(f"reference network not found at {p}: set BS4NN_SHARED")
    return p


@pytest.fixture(scope="session")
def mnist(data_dir):
    from model.data import load
    return load("mnist", data_dir, download=False)
