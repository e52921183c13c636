"""MNIST and Fashion-MNIST from standard IDX ``.gz`` files, checksum-verified.

Search order for a dataset's files: the directory the user names (``--data-dir``, which
must exist, or else the ``BS4NN_DATA`` environment variable; either holding the files
directly or a ``mnist/`` / ``fashion-mnist/`` sub-folder), then the usual system places
(Debian's ``dataset-fashion-mnist`` package), then a download from the public mirrors into
the named directory (or ``~/.cache/bs4nn/data``); folders are created only for a file
actually downloaded. Every file is checked against the sha256
or md5 its authors publish; a truncated or corrupt file is an error, never a wrong shape.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract.errors import InputError
from contract.files import atomic_path

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

# Published digests of the original .gz files (MD5 as the dataset authors and
# torchvision list them; sha256 of the same bytes).
CHECKSUMS = {
    "mnist": {
        "train-images-idx3-ubyte.gz": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train-labels-idx1-ubyte.gz": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", "d53e105ee54ea40749a09fcbcd1e9432"),
        "t10k-images-idx3-ubyte.gz": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", "9fb629c4189551a2d022fa330f9573f3"),
        "t10k-labels-idx1-ubyte.gz": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", "ec29112dd5afa0611ce80d1b7f02629c"),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train-labels-idx1-ubyte.gz": ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", "25c81989df183df01b3e8a0aad5dffbe"),
        "t10k-images-idx3-ubyte.gz": ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", "bef4ecab320f06d8554ea6380940ec79"),
        "t10k-labels-idx1-ubyte.gz": ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", "bb300cfdad3c16e7a12a480ee83cd310"),
    },
}
DATASETS = tuple(CHECKSUMS)

MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
SYSTEM_DIRS = {
    "mnist": (),
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist",),
}
ENV_VAR = "BS4NN_DATA"


class DataError(InputError, RuntimeError):
    """A dataset file is missing, truncated, corrupt or of the wrong shape."""


@dataclass(frozen=True)
class Split:
    """Images (N, 784) uint8, row-major 28x28, and labels (N,) uint8."""
    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    sha256: dict  # file name -> sha256 of the .gz actually read


def _digests(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def _verify(name: str, path: Path, fname: str | None = None) -> str:
    """sha256 of ``path``, checked against the published digests of file ``fname``
    (default: the path's own name)."""
    want_sha, want_md5 = CHECKSUMS[name][fname or path.name]
    sha, md5 = _digests(path)
    if sha != want_sha and md5 != want_md5:
        raise DataError(f"{path}: checksum mismatch (sha256 {sha}, expected {want_sha}); "
                        "the file is truncated or corrupt: delete it and provide the original")
    return sha


def check_data_dir(data_dir: str | os.PathLike | None) -> None:
    """An explicitly given ``--data-dir`` must exist (it never falls back to $BS4NN_DATA)."""
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DataError(f"--data-dir {data_dir}: no such directory")


def _candidate_dirs(name: str, data_dir: str | os.PathLike | None) -> list[Path]:
    roots = [Path(data_dir)] if data_dir else [Path(p) for p in (os.environ.get(ENV_VAR),) if p]
    dirs = []
    for root in roots:
        dirs += [root / name, root]
    return dirs + [Path(p) for p in SYSTEM_DIRS[name]]


def _download(name: str, dest: Path) -> None:
    """Fetch the missing files into ``dest``; folders are created only for a fetched file."""
    for fname in FILES:
        target = dest / fname
        if target.exists():
            continue
        errors = []
        for mirror in MIRRORS[name]:
            try:
                with urllib.request.urlopen(mirror + fname, timeout=30) as r:
                    payload = r.read()
            except OSError as exc:
                errors.append(f"{mirror}{fname}: {exc}")
                continue
            try:
                with atomic_path(target) as tmp:
                    tmp.write_bytes(payload)
                    _verify(name, tmp, fname)
            except DataError as exc:
                errors.append(str(exc))
                continue
            break
        else:
            raise DataError(f"{name}: {fname} is missing and could not be downloaded ("
                            + "; ".join(errors) + f"). Put the original file in {dest} "
                            f"or pass --data-dir / set {ENV_VAR} to a folder holding it.")


def locate(name: str, data_dir: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Return the folder holding all four verified files of dataset ``name``."""
    if name not in CHECKSUMS:
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    check_data_dir(data_dir)
    searched = _candidate_dirs(name, data_dir)
    for d in searched:
        if all((d / f).is_file() for f in FILES):
            return d
    if not download:
        raise DataError(f"{name}: files {', '.join(FILES)} not found in "
                        + ", ".join(map(str, searched)))
    root = Path(data_dir or os.environ.get(ENV_VAR) or Path.home() / ".cache/bs4nn/data")
    dest = root / name
    _download(name, dest)
    return dest


def _read_idx(path: Path, magic: int, shape_tail: tuple[int, ...]) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a valid gzip stream ({exc})") from exc
    ndim = 1 + len(shape_tail)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: {len(raw)} bytes, shorter than the IDX header")
    got_magic, *dims = struct.unpack(f">I{ndim}I", raw[:header])
    if got_magic != magic or tuple(dims[1:]) != shape_tail:
        raise DataError(f"{path}: IDX header magic {got_magic:#010x} dims {dims}, "
                        f"expected magic {magic:#010x} and trailing dims {shape_tail}")
    count = int(np.prod(dims))
    if len(raw) - header != count:
        raise DataError(f"{path}: {len(raw) - header} payload bytes, header promises {count}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def load(name: str, data_dir: str | os.PathLike | None = None, *, val_size: int = 5000,
         split_seed: int = 0, download: bool = True) -> Dataset:
    """Load dataset ``name`` with a validation split carved from the training set.

    The validation split is a fixed random subset (``split_seed``) of ``val_size`` training
    images; the test set is never used for model selection.
    """
    folder = locate(name, data_dir, download)
    sha = {f: _verify(name, folder / f) for f in FILES}
    parts = {}
    for prefix in ("train", "t10k"):
        images = _read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", 0x803, (28, 28))
        labels = _read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", 0x801, ())
        if len(images) != len(labels):
            raise DataError(f"{folder}: {prefix} has {len(images)} images but {len(labels)} labels")
        parts[prefix] = Split(images.reshape(len(images), 784), labels)
    train = parts["train"]
    if not 0 <= val_size < len(train):
        raise DataError(f"val_size {val_size} must be in [0, {len(train)})")
    order = np.random.default_rng(split_seed).permutation(len(train))
    val_idx, train_idx = np.sort(order[:val_size]), np.sort(order[val_size:])
    return Dataset(name,
                   Split(train.images[train_idx], train.labels[train_idx]),
                   Split(train.images[val_idx], train.labels[val_idx]),
                   parts["t10k"], sha)
