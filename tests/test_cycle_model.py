"""hdl/cycle_model.py on hand-computed traces (tests/test_core.py checks it against the sim)."""
from __future__ import annotations

import numpy as np
import pytest

from hdl.cycle_model import predict_cycles, predict_many

S = 256
# No decision or output register (the formula's E = O = 0), one ROM read per event, a ROM
# register, layer 1 three cycles behind layer 0, argmax 2.
TM = {"groups": 1, "rom_reg": 1, "layer_delays": [3], "decision_delay": 0,
      "output_delay": 0, "argmax_delay": 2}


def trace(*layers):
    return [np.array(x) for x in layers]


def test_single_event_nothing_fires():
    # close of step 5 at cycle 1, compared at c0 = 1 + 1 + 1 = 3; layer 1 integrates time 6 at
    # 3 + 3 = 6; nothing in flight at 7, seen (registered) at 8; no output spike: the
    # argmax adds 2 -> valid at 6 + 2 + 2.
    for full in (True, False):
        assert predict_cycles([5], trace([S, S], [S]), full=full, timing=TM) == 10


def test_early_decision_two_layers():
    # events at steps 0, 0, 2; hidden neuron 0 crosses at step 2 (spike 3), output at step 3.
    # c0(2) = 3 + 2 = 5, layer 1 compares step 3 at 5 + 3 = 8, valid one cycle later.
    tr = trace([3, S], [4])
    assert predict_cycles([0, 0, 2], tr, full=False, timing=TM) == 9
    # full mode: last compare at 8, drained at 9, valid at 10 (single winner: no argmax).
    # full mode: last compare at 8, drained (registered) at 10, valid then (single winner).
    assert predict_cycles([0, 0, 2], tr, full=True, timing=TM) == 10
    # a tie goes through the argmax
    assert predict_cycles([0, 0, 2], trace([3, S], [4, 4]), full=False, timing=TM) == 11


def test_groups_multiply_event_cycles():
    tr = trace([3, S, S, S], [4])
    g4 = dict(TM, groups=4)
    assert predict_cycles([0, 0, 2], tr, full=False, timing=g4) == 4 * 3 + 2 + 3 + 1
    no_reg = dict(TM, rom_reg=0)
    assert predict_cycles([0, 0, 2], tr, full=False, timing=no_reg) == 8


def test_step_255_is_never_compared():
    # events at 255 are closed (c0 = 3) but hand nothing on: 3 + 2, + 2 for the argmax.
    assert predict_cycles([255], trace([S, S], [S]), full=True, timing=TM) == 7


def test_three_layers_and_many():
    tm3 = dict(TM, layer_delays=[3, 4])
    tr = trace([2, S], [3], [4, S])
    # c0(1) = 2 + 2 = 4 (events at steps 0 and 1); layer 2 compares step 3 at 4 + 3 + 4 = 11.
    assert predict_cycles([0, 1], tr, full=False, timing=tm3) == 12
    offsets = np.array([0, 2, 3])
    times = np.array([0, 1, 7])
    spikes = [np.array([[2, S], [S, S]]), np.array([[3], [S]]), np.array([[4, S], [S, S]])]
    # image 1: one event at 7, nothing fires: c0 = 3, tokens to 3 + 3 + 4 = 10, +2 +2.
    got = predict_many(offsets, times, spikes, full=False, timing=tm3)
    assert got.tolist() == [12, 14]


def test_late_steps_reach_fewer_layers():
    # steps 253 and 254 in a 3-layer net with a slow last layer: step 253's compares reach
    # layer 2 (times 254, 255 compared... up to 254), step 254's only layer 1 (time 255 is
    # integrated, never compared further); the later chain ends first.
    tm = dict(TM, layer_delays=[3, 10])
    tr = trace([S], [S], [S, S])
    # c0(253) = 1 + 2 = 3 -> 3 + 3 + 10 = 16; c0(254) = 2 + 2 = 4 -> 4 + 3 = 7; z = 16.
    assert predict_cycles([253, 254], tr, full=True, timing=tm) == 16 + 2 + 2


def test_decision_and_output_registers_shift_everything():
    tr = trace([3, S], [4])
    assert predict_cycles([0, 0, 2], tr, full=False, timing=dict(TM, decision_delay=1)) == 10
    assert predict_cycles([0, 0, 2], tr, full=True, timing=dict(TM, decision_delay=1)) == 11
    assert predict_cycles([0, 0, 2], tr, full=True, timing=dict(TM, output_delay=1)) == 11


def test_bad_input():
    with pytest.raises(ValueError):
        predict_cycles([], trace([S], [S]), full=True, timing=TM)
    with pytest.raises(ValueError):
        predict_cycles([3, 1], trace([S], [S]), full=True, timing=TM)
    with pytest.raises(ValueError, match="layer delays"):
        predict_cycles([1], trace([S], [S], [S]), full=True, timing=TM)
