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
  flight: cycles = max(C0(last step), max over layers l >= 1 and input times t of C_l(t)) + 2;
* with ``tree_inputs`` = C, a deeper layer whose input of time t touches K chunks of C
  inputs holds the whole pipeline for K - 1 extra cycles at C_l(t) (layers busy at the same
  cycle wait together: the maximum counts); the totals above add every such stall up to the
  deciding cycle.

`cycles` is counted from the cycle the image's first event is first presented to an idle
core to the cycle ``o_result`` becomes valid.
"""
from __future__ import annotations

import numpy as np

T = 256
SILENT = 256


def predict_cycles(ev_times, spikes, *, full: bool, lanes: int | None = None,
                   tree_inputs: int | None = None) -> int:
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
    tree_inputs : int or None
        The core's ``tree_inputs`` parameter (None = whole vectors in one cycle).
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

    # Chunked deeper layers: integrating input time t with K non-empty chunks holds the
    # whole pipeline for K - 1 extra cycles; layers busy in the same cycle wait together.
    stall: dict[int, int] = {}
    work = []                                                  # (layer, input time)
    for l in range(1, L):
        prev = np.asarray(spikes[l - 1])
        for t in np.unique(prev):
            if t > T - 1:
                continue
            t = int(t)
            x = c_l(l, t)
            work.append(x)
            if tree_inputs is not None and tree_inputs < len(prev):
                k = len(np.unique(np.flatnonzero(prev == t) // tree_inputs))
                stall[x] = max(stall.get(x, 0), k - 1)

    def stalls_upto(x: int) -> int:
        return sum(v for c, v in stall.items() if c <= x)

    out = np.asarray(spikes[-1])
    first = int(out.min())
    if not full and first < SILENT:
        c = c_l(L - 1, first - 1)
        return c + 1 + stalls_upto(c)
    last = max([c0[int(steps[-1])]] + work)
    return last + 2 + stalls_upto(last)

def predict_many(offsets, ev_times, spikes, *, full: bool, lanes: int | None = None,
                 tree_inputs: int | None = None) -> np.ndarray:
    """Cycles of N images: events as (offsets (N+1,), times (E,)), spikes per layer (N, N_l)."""
    n = len(offsets) - 1
    return np.array([predict_cycles(ev_times[offsets[k]:offsets[k + 1]],
                                    [np.asarray(s[k]) for s in spikes], full=full, lanes=lanes,
                                    tree_inputs=tree_inputs)
                     for k in range(n)], np.int64)
