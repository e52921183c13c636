"""``python -m sim.fuzz`` (docs/fuzz.md) in a small default run: a few random networks of one
shape through one Icarus build with runtime-loaded weights, bit-exact; and with a flipped
weight bit (``--inject-fault``) the run fails and shrinks to a one-image reproducer."""
from __future__ import annotations

import shutil

import pytest

from contract.artifacts import load_artifacts
from sim.fuzz import main

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

ARGS = ["--shapes", "1", "--simulator", "icarus", "--jobs", "2", "--quiet"]


def test_five_networks_bit_exact(tmp_path, capsys):
    assert main(["--nets", "5", "--seed", "11", "--out", str(tmp_path), *ARGS]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "5 networks in 1 shapes (1 builds)" in last and ": 0 failing;" in last


def test_injected_fault_is_shrunk(tmp_path, capsys):
    assert main(["--nets", "1", "--seed", "13", "--images", "8", "--inject-fault",
                 "--out", str(tmp_path), *ARGS]) == 1
    out = capsys.readouterr().out
    repro = [ln.split(": ", 1)[1] for ln in out.splitlines() if ln.startswith("reproducer: ")]
    assert len(repro) == 1 and ": 1 failing;" in out
    art = load_artifacts(repro[0])
    assert int(art.manifest["vectors"]["vectors"]["count"]) == 1
    n_events = int(art.vectors["ev_offsets"][-1])
    src = load_artifacts(art.manifest["source"]["derived_from"])
    kind, n = art.manifest["source"]["images"][0].split(":")
    off = getattr(src, kind)["ev_offsets"]
    failing_image_events = int(off[int(n) + 1] - off[int(n)])
    assert n_events <= failing_image_events
    assert n_events < failing_image_events or n_events == 1


def test_bad_option_is_one_line(capsys):
    assert main(["--nets", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --nets 0: expected an integer >= 1"]
