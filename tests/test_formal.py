# amaranth: UnusedElaboratable=no
"""The formal checks of hdl/formal (docs/formal.md) through yowasp-sby and Yices.

Every check of ``hdl.formal.properties.CHECKS`` must pass; those that take minutes are marked
``slow``. Two checks must fail, to show the harnesses can fail: the counters without the
event contract overflow, and the liveness bound one cycle short is broken.
"""
from __future__ import annotations

import numpy as np
import pytest

from contract.numerics import SILENT
from hdl.cycle_model import predict_cycles
from hdl.formal.__main__ import main
from hdl.formal.counters import CounterHarness
from hdl.formal.liveness import LivenessHarness
from hdl.formal.properties import CHECKS, tiny_network
from hdl.formal.sby import Check, run_check, tools_missing

pytestmark = [pytest.mark.formal,
              pytest.mark.skipif(bool(tools_missing()),
                                 reason=f"missing {', '.join(tools_missing())} (.[formal])"),
              pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")]

SLOW = {"counters_lutram", "liveness_8_4_3_arty"}      # minutes (benchmarks/results/formal.txt)


@pytest.mark.parametrize("check", [pytest.param(c, id=c.name, marks=[pytest.mark.slow]
                                                if c.name in SLOW else [])
                                   for c in CHECKS])
def test_check_passes(check, tmp_path):
    v = run_check(check, tmp_path)
    assert v.passed, f"{v.line()}\n{(v.workdir / 'sby.log').read_text()[-3000:]}"


def test_counters_overflow_without_the_contract(tmp_path):
    harness = Check("no_contract", "bmc", 6,
                    lambda: CounterHarness(n=1, fan_in=3, contract=False))
    v = run_check(harness, tmp_path)
    assert v.status == "FAIL" and not v.passed


def test_liveness_bound_is_tight(tmp_path):
    class Short(LivenessHarness):
        def __init__(self):
            super().__init__(tiny_network(), debug_port=False)
            self.result_bound -= 1
    v = run_check(Check("short_bound", "bmc", 20, Short), tmp_path)
    assert v.status == "FAIL"


def test_result_bound_is_the_cycle_models_worst_case():
    h = LivenessHarness(tiny_network(), debug_port=False)
    n_in, n_out = 4, 2
    silent = [np.full(3, SILENT), np.full(n_out, SILENT)]      # no spike: argmax, slow path
    worst = predict_cycles(list(range(n_in)), silent, full=False, timing=h.core.timing)
    assert h.result_bound == worst == 12


def test_cli_lists_and_refuses_unknown_names(capsys):
    assert main(["--list"]) == 0
    assert "frame_idle_arty" in capsys.readouterr().out
    assert main(["--prove", "nonesuch"]) == 2
    assert capsys.readouterr().err.startswith("error: --prove nonesuch: no such check")
