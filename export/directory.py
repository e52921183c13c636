"""Publish an export: an artifact directory appears whole or not at all.

The files are written into a temporary folder beside DIR, verified with the reader, then
renamed into place. A DIR that already holds an identical export is left as is; one that
holds a different export is refused unless ``force`` (docs/artifacts.md, "Commands").
``force`` replaces only what is recognisably an earlier export (a folder whose manifest has
the artifact schema and which holds only files an export writes): never a file, never a
folder holding the checkpoint or anything else.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from contract.artifacts import MANIFEST, SCHEMA, SCHEMAS, ArtifactError, load_artifacts
from contract.errors import UsageError
from contract.files import current_umask, sha256_file

REFUSED = "{out} already holds a different export (or other files); pass --force to replace it"
EXPORT_FILE = re.compile(r"(manifest\.json|vectors\.npz|stress\.npz|layer\d+\.(mem|coe|bin))")


def foreign_entries(out: Path) -> list[str]:
    """What in folder ``out`` an export would not have written (empty: an earlier export)."""
    names = sorted(p.name for p in out.iterdir())
    foreign = [n for n in names if not (EXPORT_FILE.fullmatch(n) and (out / n).is_file()
                                        and not (out / n).is_symlink())]
    if foreign or not names:
        return foreign
    try:
        schema = json.loads((out / MANIFEST).read_text()).get("schema")
    except (OSError, ValueError, AttributeError):
        schema = None
    return [] if schema in SCHEMAS else [f"{MANIFEST} (no {SCHEMA} schema)"]


def check_target(out: Path, ck_path: Path, force: bool) -> None:
    """Refuse, before any work, an ``--out`` that the export must not write or replace."""
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise UsageError(f"--out {out}: is not a directory; an export never replaces a file")
        where = out.resolve()
        if where in ck_path.resolve().parents:
            raise UsageError(f"--out {out}: holds the checkpoint {ck_path}; choose another "
                             "artifact directory")
        if where == Path.cwd().resolve() or where in Path.cwd().resolve().parents:
            raise UsageError(f"--out {out}: holds the working directory; choose another "
                             "artifact directory")
        foreign = foreign_entries(out)
        if force and foreign:
            raise UsageError(f"--out {out}: not an earlier export (holds {', '.join(foreign[:3])}"
                             f"{' ...' if len(foreign) > 3 else ''}); --force replaces only "
                             "an artifact directory")
        return
    base = out.absolute().parent
    while not base.exists():
        base = base.parent
    if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: cannot create it ({base} is not a writable directory)")


@contextmanager
def atomic_directory(out: str | os.PathLike):
    """Yield an empty temporary folder beside ``out``; on success it takes ``out``'s place.

    A previous ``out`` is moved aside first and removed once the new one is in place; on
    an exception the temporary folder is removed and ``out`` is untouched.
    """
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~current_umask())
        if not out.exists():
            os.rename(tmp, out)
            return
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.rmdir(old)
        os.rename(out, old)
        os.rename(tmp, out)
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def existing_state(out: Path, files: dict[str, bytes]) -> str:
    """'absent', 'empty', 'identical' or 'different' (anything else that is there)."""
    if not out.exists():
        return "absent"
    if out.is_dir() and not any(out.iterdir()):
        return "empty"
    if not out.is_dir():
        return "different"
    m = out / MANIFEST
    if not m.is_file() or m.read_bytes() != files[MANIFEST]:
        return "different"
    try:
        load_artifacts(out)
    except ArtifactError:
        return "different"
    return "identical" if {q.name for q in out.iterdir()} == set(files) else "different"


def refuse_early(out: Path, ck_path: Path, n_vectors: int | None) -> None:
    """Refuse before the heavy work when DIR plainly holds something else."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    try:
        m = json.loads((out / MANIFEST).read_text())
        same = (m["source"]["sha256"] == sha256_file(ck_path) and
                m["vectors"]["vectors"]["count"] == (n_vectors or m["accuracy"]["count"]))
    except (OSError, ValueError, KeyError, TypeError):
        same = not ck_path.is_file()     # let the checkpoint error speak first
    if not same:
        raise FileExistsError(REFUSED.format(out=out))


def write_dir(out: Path, files: dict[str, bytes], force: bool) -> str:
    """Write atomically; returns 'written', 'replaced' or 'unchanged'."""
    out = out.absolute()
    state = existing_state(out, files)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is not a directory; an export never replaces a file")
    if state == "identical":
        return "unchanged"
    if state == "different" and not force:
        raise FileExistsError(REFUSED.format(out=out))
    if state == "different" and foreign_entries(out):
        raise UsageError(f"--out {out}: not an earlier export; --force replaces only an "
                         "artifact directory")
    with atomic_directory(out) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        load_artifacts(tmp)          # never publish something the reader rejects
    return "written" if state == "absent" else "replaced"
