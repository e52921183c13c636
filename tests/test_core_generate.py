"""hdl/generate.py: Verilog port names and payload layouts the cocotb bench relies on."""
from __future__ import annotations

import numpy as np

from amaranth.back import verilog

from hdl.core import BS4NNCore, CoreNetwork
from hdl.generate import describe, payload_fields


def test_verilog_ports_and_layouts():
    rng = np.random.default_rng(0)
    ws = [rng.choice([-1, 1], size=(6, 12)), rng.choice([-1, 1], size=(3, 6))]
    core = BS4NNCore(CoreNetwork.from_weights(ws, [2, 1]), lanes=4, tree_levels=2)
    text = verilog.convert(core, name="bs4nn_core")
    for port in ("clk", "rst", "full", "debug", "i_event__valid", "i_event__ready",
                 "i_event__payload", "o_result__valid", "o_result__ready", "o_result__payload",
                 "o_spike__valid", "o_spike__ready", "o_spike__payload"):
        assert f" {port};" in text, port
    ev = dict((n, (lsb, w)) for n, lsb, w in payload_fields(core, "i_event"))
    assert ev == {"time": (0, 8), "addr": (8, 4), "last": (12, 1)}
    res = dict((n, (lsb, w)) for n, lsb, w in payload_fields(core, "o_result"))
    assert res["label"] == (0, 2) and res["step"] == (2, 8) and res["cycles"] == (12, 32)
    assert res["times[2]"] == (44 + 18, 9)
    assert "o_spike__payload (13 bits): layer[0], neuron[3:1], time[12:4]" in describe(core)
    sp = dict((n, (lsb, w)) for n, lsb, w in payload_fields(core, "o_spike"))
    assert sp == {"layer": (0, 1), "neuron": (1, 3), "time": (4, 9)}
