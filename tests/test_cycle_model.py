"""hdl/cycle_model.py on hand-computed traces (tests/test_core.py checks it against the sim)."""
from __future__ import annotations

import numpy as np
import pytest

from hdl.cycle_model import predict_cycles, predict_many

S = 256


def trace(l0, l1):
    return [np.array(l0), np.array(l1)]


def test_single_event_nothing_fires():
    # event at cycle 0, close issued at 1, compared at 2 (=C0), nothing in flight -> stop at
    # C0 + 1 = 3, result valid at 4.
    assert predict_cycles([5], trace([S, S], [S]), full=True) == 4
    assert predict_cycles([5], trace([S, S], [S]), full=False) == 4


def test_early_decision_two_layers():
    # 3 events at steps 0, 0, 2. Hidden neuron 0 crosses at step 2 (spike 3), output crosses
    # at step 3 (spike 4). C0(2) = 3 + 1 = 4; layer 1 integrates time 3 at C0(2) + 1 = 5;
    # the result is valid one cycle later.
    tr = trace([3, S], [4])
    assert predict_cycles([0, 0, 2], tr, full=False) == 6
    # full mode: latest work is layer 1 at cycle 5 -> stop at 6, valid at 7.
    assert predict_cycles([0, 0, 2], tr, full=True) == 7


def test_lanes_multiply_event_cycles():
    tr = trace([3, S, S, S], [4])
    a = predict_cycles([0, 0, 2], tr, full=False, lanes=4)       # G = 1
    b = predict_cycles([0, 0, 2], tr, full=False, lanes=1)       # G = 4
    assert a == 6 and b == 4 * 3 + 1 + 1 + 1


def test_spikes_at_256_and_late_crossings_are_ignored():
    # A hidden spike at 256 (crossing at 255) is never integrated.
    assert predict_cycles([255], trace([S, S], [S]), full=True) == 4


def test_three_layers_and_many():
    tr = [np.array([2, S]), np.array([3]), np.array([4, S])]
    # C0(1) = 2 + 1 = 3 (events 0, 1 at steps 0 and 1); layer 1 at time 2 -> C0(1) + 1 = 4;
    # layer 2 at time 3 -> C0(1) + 2 = 5; result 6.
    assert predict_cycles([0, 1], tr, full=False) == 6
    offsets = np.array([0, 2, 3])
    times = np.array([0, 1, 7])
    spikes = [np.array([[2, S], [S, S]]), np.array([[3], [S]]), np.array([[4, S], [S, S]])]
    got = predict_many(offsets, times, spikes, full=False)
    assert got.tolist() == [6, 4]


def test_bad_input():
    with pytest.raises(ValueError):
        predict_cycles([], trace([S], [S]), full=True)
    with pytest.raises(ValueError):
        predict_cycles([3, 1], trace([S], [S]), full=True)
    with pytest.raises(ValueError):
        predict_cycles([1], trace([S], [S]), full=True, lanes=2)
