"""Shared fixtures: where the datasets and the authors' published network live.

Data policy (one for every test): the data folder is ``--data-dir`` (pytest option), else
``$BS4NN_DATA``, else ``../shared/data`` beside the checkout. The tests never download; a
missing or corrupt dataset FAILS the test that needs it, naming what is missing (CI always
has the data). The authors' weights are ``reference/bs4nn_authors_mnist.npz`` in
``$BS4NN_SHARED``, else in the data folder's parent (the layout is ``shared/data`` beside
``shared/reference``), with the same policy.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def pytest_addoption(parser):
    parser.addoption("--data-dir", default=None,
                     help="folder holding mnist/ (and fashion-mnist/); default $BS4NN_DATA, "
                          "else ../shared/data")


@pytest.fixture(scope="session")
def data_dir(pytestconfig) -> Path:
    """The folder holding the datasets' sub-folders; fails when it has no mnist/."""
    d = Path(pytestconfig.getoption("--data-dir") or os.environ.get("BS4NN_DATA")
             or SHARED / "data")
    if not (d / "mnist").is_dir():
        pytest.fail(f"MNIST not found under {d}: pass --data-dir or set BS4NN_DATA to the "
                    "folder holding mnist/", pytrace=False)
    return d


@pytest.fixture(scope="session")
def mnist(data_dir):
    """MNIST, checksum-verified (train 55,000 / val 5,000 / test 10,000)."""
    from model.data import DataError, load
    try:
        return load("mnist", data_dir, download=False)
    except DataError as exc:
        pytest.fail(f"MNIST under {data_dir} is not usable: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def reference_npz(data_dir) -> Path:
    """The authors' published MNIST weights (signs, fact, thr, theta)."""
    shared = Path(os.environ.get("BS4NN_SHARED") or data_dir.parent)
    p = shared / "reference" / "bs4nn_authors_mnist.npz"
    if not p.is_file():
        pytest.fail(f"the authors' weights not found at {p}: set BS4NN_SHARED to the folder "
                    "holding reference/", pytrace=False)
    return p
