"""File helpers every stage shares: atomic writes (temporary file, then rename), output-path
checks done before any long work, and sha256."""
from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import UsageError


def current_umask() -> int:
    """The process's umask (read without changing it for longer than one call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success.

    The file gets the mode an ordinary ``open(path, "w")`` would give (0o666 less the umask),
    not mkstemp's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        if os.path.exists(tmp):
            os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output_file(path: str | os.PathLike, what: str, *,
                      keep_existing: bool = False) -> Path:
    """Refuse, before any long work, an output file that could not be written.

    ``what`` names the option (e.g. ``--out``). Refused: an existing directory, a parent
    that is a file or cannot be created, a parent folder without write permission, and with
    ``keep_existing`` any existing file (the command's ``--force`` replaces one). Creates
    nothing; returns ``Path(path)``.
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{what} {path}: is a directory, expected a file name")
    if keep_existing and path.exists():
        raise UsageError(f"{what} {path}: already exists; choose another name or pass "
                         "--force to replace it")
    if path.name in ("", ".", ".."):
        raise UsageError(f"{what} {path}: is not a file name")
    base = _nearest_existing(path.absolute().parent)
    if not base.is_dir():
        raise UsageError(f"{what} {path}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path}: no permission to write in {base}")
    return path


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
