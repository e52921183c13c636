"""Dataset loader: checksums, shapes, split, and clear errors for bad files."""
import gzip
import shutil

import numpy as np
import pytest

from model.data import DataError, load, locate


def test_mnist_shapes_and_split(mnist):
    assert mnist.train.images.shape == (55000, 784) and mnist.val.images.shape == (5000, 784)
    assert mnist.test.images.shape == (10000, 784) and mnist.test.images.dtype == np.uint8
    assert np.bincount(mnist.test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # Validation and training are disjoint parts of the 60,000 training images.
    tr = {r.tobytes() for r in mnist.train.images[:2000]}
    assert not any(r.tobytes() in tr for r in mnist.val.images[:2000] if r.any())


def _copy(data_dir, tmp_path):
    dst = tmp_path / "mnist"
    shutil.copytree(data_dir / "mnist", dst)
    return dst


def test_truncated_file_is_named(data_dir, tmp_path):
    d = _copy(data_dir, tmp_path)
    p = d / "t10k-labels-idx1-ubyte.gz"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: checksum mismatch"):
        load("mnist", tmp_path, download=False)


def test_missing_files_are_listed(tmp_path, monkeypatch):
    monkeypatch.delenv("BS4NN_DATA", raising=False)
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz"):
        locate("mnist", tmp_path, download=False)


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'cifar'"):
        locate("cifar")


def test_wrong_shape_header_is_an_error(tmp_path):
    from model.data import _read_idx
    p = tmp_path / "x.gz"
    with gzip.open(p, "wb") as f:
        f.write(bytes([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 27]) + bytes(28 * 27))
    with pytest.raises(DataError, match="trailing dims"):
        _read_idx(p, 0x803, (28, 28))
