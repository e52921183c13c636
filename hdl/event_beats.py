"""Events in beats: the ``i_event`` stream of a core taking K = ``events_per_cycle`` events a
cycle (docs/core.md, "Ports").

A beat carries up to K events of one step, in stream order: a step with n events takes
ceil(n / K) beats, the last one holding n mod K events when K does not divide n. With K = 1
a beat is an event.
"""
from __future__ import annotations

import numpy as np

__all__ = ["beat_starts", "beats"]


def beat_starts(times, k: int) -> np.ndarray:
    """Index of each beat's first event in ``times`` (one image's event times, sorted)."""
    t = np.asarray(times, np.int64)
    idx = np.arange(len(t))
    new_step = np.r_[True, t[1:] != t[:-1]] if len(t) else np.zeros(0, bool)
    step_first = np.maximum.accumulate(np.where(new_step, idx, 0)) if len(t) else idx
    return np.flatnonzero((idx - step_first) % k == 0)


def beats(times, addrs, k: int) -> list[tuple[int, tuple[int, ...]]]:
    """One image's events (sorted by (time, addr)) as beats ``(time, (addr, ...))`` of up
    to ``k`` events each; the image's last event is in the last beat."""
    t = [int(x) for x in times]
    a = [int(x) for x in addrs]
    ends = [*beat_starts(t, k).tolist(), len(t)]
    return [(t[s], tuple(a[s:e])) for s, e in zip(ends, ends[1:])]
