"""The import rule of docs/contract.md: the hardware side never reaches the model or the writer.

Every ``import`` / ``from ... import`` of every .py file under hdl/ and sim/ (module level
or inside a function, relative ones resolved) is followed through the repository's own
modules; none may lead to ``model`` or ``export``. ``contract`` itself imports only the
standard library, numpy and ``contract``.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("model", "export")        # the model and the artifact writer
HARDWARE_SIDE = ("hdl", "sim")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def local_file(root: Path, module: str) -> Path | None:
    """The repository file of a dotted module name, or None when it is not ours."""
    base = root.joinpath(*module.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def imports_of(root: Path, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file, wherever it stands."""
    tree = ast.parse(path.read_text(), filename=str(path))
    own = module_name(root, path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module
            found.append((node.lineno, base))
            # `from pkg import name` may import the submodule pkg.name
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names
                      if local_file(root, f"{base}.{alias.name}") is not None]
    return found


def _with_parents(module: str) -> list[str]:
    """Importing a.b.c runs a, a.b and a.b.c."""
    parts = module.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]


def forbidden_paths(root: Path, start: Path, forbidden=FORBIDDEN) -> list[str]:
    """Import chains from ``start`` (through local modules) that end in a forbidden package."""
    problems, seen = [], set()
    todo = [(start, [])]
    while todo:
        path, chain = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for line, module in imports_of(root, path):
            hop = chain + [f"{path.relative_to(root)}:{line} imports {module}"]
            if module.split(".")[0] in forbidden:
                problems.append(" -> ".join(hop))
                continue
            for name in _with_parents(module):
                target = local_file(root, name)
                if target is not None and target not in seen:
                    todo.append((target, hop))
    return problems


def hardware_side_violations(root: Path) -> list[str]:
    out = []
    for pkg in HARDWARE_SIDE:
        for path in sorted((root / pkg).rglob("*.py")):
            out += forbidden_paths(root, path)
    return sorted(set(out))


# ----------------------------------------------------------------------------- the rules

def test_hdl_and_sim_never_reach_model_or_export():
    bad = hardware_side_violations(ROOT)
    assert not bad, "hdl/ or sim/ reaches the model or the writer:\n  " + "\n  ".join(bad)


def test_contract_imports_only_stdlib_numpy_and_itself():
    allowed = set(sys.stdlib_module_names) | {"__future__", "numpy", "contract"}
    bad = [f"{path.relative_to(ROOT)}:{line} imports {module}"
           for path in sorted((ROOT / "contract").rglob("*.py"))
           for line, module in imports_of(ROOT, path)
           if module.split(".")[0] not in allowed]
    assert not bad, "contract/ must import only the standard library and numpy:\n  " + \
        "\n  ".join(bad)


# ----------------------------------------------------------------------------- the checker

def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_checker_follows_local_modules_and_relative_imports(tmp_path):
    root = _tree(tmp_path, {
        "sim/__init__.py": "", "hdl/__init__.py": "", "model/__init__.py": "",
        "sim/x.py": "import os\nfrom hdl import y\n",
        "hdl/y.py": "from .z import f\n",
        "hdl/z.py": "def f():\n    import numpy\n    from model import network\n",
        "hdl/clean.py": "from . import z_ok\n", "hdl/z_ok.py": "import contract.numerics\n",
    })
    assert forbidden_paths(root, root / "sim/x.py") == [
        "sim/x.py:2 imports hdl.y -> hdl/y.py:1 imports hdl.z -> hdl/z.py:3 imports model"]
    assert forbidden_paths(root, root / "hdl/clean.py") == []
    assert hardware_side_violations(root) == [
        "hdl/y.py:1 imports hdl.z -> hdl/z.py:3 imports model",
        "hdl/z.py:3 imports model",
        "sim/x.py:2 imports hdl.y -> hdl/y.py:1 imports hdl.z -> hdl/z.py:3 imports model"]


def test_checker_sees_export_through_a_package_init(tmp_path):
    root = _tree(tmp_path, {
        "sim/__init__.py": "from export.weights import main\n", "sim/a.py": "import sim.b\n",
        "sim/b.py": "",
    })
    assert "sim/a.py:1 imports sim.b -> sim/__init__.py:1 imports export.weights" in \
        forbidden_paths(root, root / "sim/a.py")
