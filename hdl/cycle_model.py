"""Exact cycle count of BS4NNCore for one image, from its spike trace (no simulation).

The core (hdl/core.py) is a pipeline; with an always-valid event source, always-ready
result sink and ``debug`` = 0 its timing is fixed by the trace:

* event i (0-based, in stream order) starts its ROM reads at cycle G * i, where
  G = ceil(N1 / lanes) is the number of reads per event; cycle 0 is the first event's;
* layer 0 closes step u (a step with events) at cycle C0(u) = G * n(u) + 1, where n(u) is
  the number of events with time <= u (the close is issued with the next event's first read,
  or right after the last event, and the compare happens one cycle later, behind the ROM);
* layer l >= 1 integrates its input spikes of time t (crossings of layer l-1 at t - 1) at
  cycle C_l(t) = C0(t - l) + l: one cycle per layer behind layer 0;
* early mode: the result is valid one cycle after the output layer's first crossing,
  cycles = C_{L-1}(t_dec) + 1 with t_dec = first output spike time - 1;
* otherwise (``full``, or no output spike) the core stops one cycle after nothing is left in
  flight: cycles = max(C0(last step), max over layers l >= 1 and input times t of C_l(t)) + 2.

`cycles` is counted from the cycle the image's first event is first presented to an idle
core to the cycle ``o_result`` becomes valid.
"""
from __future__ import annotations

import numpy as np

T = 256
SILENT = 256


def predict_cycles(ev_times, spikes, *, full: bool, lanes: int | None = None) -> int:
    """Cycles of one image.

    Parameters
    ----------
    ev_times : sequence of int
        The image's input event times in stream order (sorted), at least one.
    spikes : list of arrays
        Per weight layer, every neuron's spike time (256 = silent), as in a full run.
    full : bool
        The core's ``full`` input.
    lanes : int or None
        The core's ``lanes`` parameter (None = first hidden width).
    """
    ev = np.asarray(ev_times, np.int64)
    if ev.size == 0:
        raise ValueError("an image needs at least one event")
    if np.any(np.diff(ev) < 0):
        raise ValueError("event times must be sorted")
    n1 = len(spikes[0])
    lanes = n1 if lanes is None else lanes
    if not 1 <= lanes <= n1:
        raise ValueError(f"lanes must be in 1..{n1}, got {lanes}")
    G = -(-n1 // lanes)
    L = len(spikes)
    steps, last_idx = np.unique(ev, return_index=False), None
    n_le = np.searchsorted(ev, steps, side="right")            # events with time <= step
    c0 = dict(zip(steps.tolist(), (G * n_le + 1).tolist()))

    def c_l(l: int, t: int) -> int:
        return c0[t - l] + l

    out = np.asarray(spikes[-1])
    first = int(out.min())
    if not full and first < SILENT:
        return c_l(L - 1, first - 1) + 1
    last = c0[int(steps[-1])]
    for l in range(1, L):
        for t in np.unique(np.asarray(spikes[l - 1])):
            if t <= T - 1:
                last = max(last, c_l(l, int(t)))
    return last + 2


def predict_many(offsets, ev_times, spikes, *, full: bool, lanes: int | None = None) -> np.ndarray:
    """Cycles of N images: events as (offsets (N+1,), times (E,)), spikes per layer (N, N_l)."""
    n = len(offsets) - 1
    return np.array([predict_cycles(ev_times[offsets[k]:offsets[k + 1]],
                                    [np.asarray(s[k]) for s in spikes], full=full, lanes=lanes)
                     for k in range(n)], np.int64)
