"""Exact cycle count of BS4NNCore for one image, from its spike trace (no simulation).

The core (hdl/core.py) is a composition of parts, each with a fixed latency, collected in
``BS4NNCore.timing``: G (ROM reads per event: the input layer's row groups), 1 + R (the
input layer: its ROM read and, R = 1, the ROM register), D_l (deeper layer l's tree
registers), E (the decision's register stage, 1), A (the decision's argmax stages) and O
(the controller's result register, 1). The front end adds no latency. With an
always-valid event source, an always-ready result sink and ``debug`` = 0 the timing is
fixed by the trace. Cycle 0 is the one in which the image's first event is accepted by an
idle core.

* the events come in beats of up to K = ``events_per_cycle`` events of one step
  (hdl/event_beats.py: ceil(n / K) beats for a step of n events; K = 1: a beat is an event);
  beat i (0-based, stream order) is read at cycles G*i .. G*i + G - 1;
* step u (a step with events) is closed at cycle G*b(u), b(u) = beats with time <= u
  (by the next beat's first read, or right after the last beat), and the input layer
  compares it at c_0(u) = G*b(u) + 1 + R;
* a compare of step u <= 254 hands layer 1 its inputs of time u + 1, which it compares at
  c_1(u + 1) = c_0(u) + D_1; likewise c_l(t) = c_{l-1}(t - 1) + D_l (inputs of time 255
  are integrated, for V(255), but never compared);
* early mode, first output crossing at step t: ``cycles = c_{L-1}(t) + 1 + E + O``, + A for
  a tie;
* otherwise (``full``, or no output spike): the compares of step u reach layer
  min(L - 1, 255 - u) (inputs of time 255 go no further), plus E after an output-layer
  compare; with z the latest of those cycles over all steps, ``cycles = z + 2 + O``, + A for
  a tie or no output spike.
"""
from __future__ import annotations

import numpy as np

from contract.numerics import LAST_STEP, SILENT

from .event_beats import beat_starts


def predict_cycles(ev_times, spikes, *, full: bool, timing: dict, ev_addrs=None) -> int:
    """Cycles of one image.

    Parameters
    ----------
    ev_times : sequence of int
        The image's input event times in stream order (sorted), at least one.
    spikes : list of arrays
        Per weight layer, every neuron's spike time (256 = silent), as in a full run.
    full : bool
        The core's ``full`` input.
    timing : dict
        ``BS4NNCore.timing``: groups, rom_reg, layer_delays (one per deeper layer),
        decision_delay, output_delay, argmax_delay; events_per_cycle (1 when absent); or
        ``ConvCore.timing`` (kind "conv": hdl/conv_cycle_model.py, which also needs ``ev_addrs``).
    ev_addrs : sequence of int, optional
        The events' input indices (conv networks only).
    """
    if timing.get("kind") == "conv":            # hdl/conv_core.py: needs the event addresses
        from .conv_cycle_model import predict_conv_cycles
        return predict_conv_cycles(ev_times, ev_addrs, spikes, full=full, timing=timing)
    ev = np.asarray(ev_times, np.int64)
    if ev.size == 0:
        raise ValueError("an image needs at least one event")
    if np.any(np.diff(ev) < 0):
        raise ValueError("event times must be sorted")
    G, R = int(timing["groups"]), int(timing["rom_reg"])
    delays = [int(d) for d in timing["layer_delays"]]
    A, E = int(timing["argmax_delay"]), int(timing["decision_delay"])
    O = int(timing["output_delay"])
    if len(delays) != len(spikes) - 1:
        raise ValueError(f"{len(spikes)} weight layers but {len(delays)} layer delays")

    beat_times = ev[beat_starts(ev, int(timing.get("events_per_cycle", 1)))]

    def c0(u: int) -> int:
        return G * int(np.searchsorted(beat_times, u, side="right")) + 1 + R

    out = np.asarray(spikes[-1])
    first = int(out.min())
    if not full and first < SILENT:
        t = first - 1                                  # output crossing step
        c = c0(t - len(delays)) + sum(delays)
        winners = int((out == first).sum())
        return c + 1 + E + O + (A if winners > 1 else 0)
    z = 0
    for u in np.unique(ev).tolist():                   # each step's compares, layer by layer
        depth = max(0, min(len(delays), LAST_STEP - u))
        # an output-layer compare is followed by the decision register stage
        z = max(z, c0(u) + sum(delays[:depth]) + (E if depth == len(delays) else 0))
    slow = first >= SILENT or int((out == first).sum()) > 1
    return z + 2 + O + (A if slow else 0)


def predict_many(offsets, ev_times, spikes, *, full: bool, timing: dict,
                 ev_addrs=None) -> np.ndarray:
    """Cycles of N images: events as (offsets (N+1,), times (E,)[, addresses (E,)]), spikes
    per layer (N, N_l)."""
    per_image = np.split(np.asarray(ev_times), np.asarray(offsets))[1:-1]
    addrs = (np.split(np.asarray(ev_addrs), np.asarray(offsets))[1:-1] if ev_addrs is not None
             else [None] * len(per_image))
    return np.array([predict_cycles(times, [np.asarray(s[k]) for s in spikes], full=full,
                                    ev_addrs=addrs[k],
                                    timing=timing)
                     for k, times in enumerate(per_image)], np.int64)
