"""Exact cycle count of the conv core (hdl/conv_core.py) for one image, from its spike trace.

The event stages (docs/core.md, "Convolutional layers") are replayed item by item; cycle 0
is the one in which an idle core sees the image's first event, with an always-valid event
source, an always-ready result sink and ``debug`` = 0. Per stage, with G its channel groups:

* the stage's items -- input events, and the close of each step that had events -- are
  taken in order; an event takes G cycles (reads), a close of step u <= 254 one read per
  (dirty cell, group), cells in ascending order, a close of step 255 one cycle;
* an item's group issued in cycle n has its addresses formed in n + 1 and registered at
  the memories in n + 2, its words in a register in n + 3, and is written back (its data
  cycle) in n + 4; the compare's results reach the pooling OR in n + 5 and its registered
  output in n + 6 (``DATA``, ``OUT``, ``PUSH`` below): a compare issued in cycle n whose
  cell holds pooled neurons (of that group) firing at u + 1 pushes an entry in n + 6; when
  the pass pushed any, its marker follows one cycle after the last compare's (last
  issue + 7);
* stage 0's items follow each other back to back from cycle 1 (``FRONT``: the front
  end's output register); a deeper stage's queue element (an entry: one input event per
  spike it carries; a marker: one close) pushed in cycle p offers its first item to the
  next layer from p + 3 (``QUEUE``: the FIFO, the expander, its output register), or as
  soon as the layer has taken the items before it; its other items follow back to back;
* the last stage's marker of step s, pushed in cycle p, is the dense layers' compare of
  step s in cycle M = p + 1 (``FLAT``): dense layer j compares step s + j at M + D_1 + ... + D_j (steps above 255 go no further);
* early mode, first output crossing at step t: ``cycles = M(t - k) + sum(D) + 1 + E + O``
  (k dense layers), + A for a tie;
* otherwise: with z the last cycle anything is in flight (an issue's data cycle, the data
  cycle of a taken close, a marker, a queued element until its last item is taken, a dense
  compare, the decision register), ``cycles = z + 2 + O``, + A for a tie or no output spike.
"""
from __future__ import annotations

import functools

import numpy as np

from contract.numerics import LAST_STEP, SILENT

__all__ = ["predict_conv_cycles"]

DATA = 4        # issue -> data cycle (address, memory, read register, data)
OUT = DATA + 1  # issue -> the compare's results at the pooling layer
PUSH = OUT + 1  # issue -> the pooling's registered entry (or a taken close -> its marker)
FLAT = 1        # a last-stage marker -> the first dense layer's compare (Flatten)
FRONT = 1       # an accepted input event -> the first conv layer sees its item
QUEUE = 3       # a queued element pushed -> the next conv layer sees its first item


@functools.lru_cache(maxsize=None)
def _windows(kernel, pad, pool, in_shape, out_shape) -> list[list[tuple[int, ...]]]:
    """[y][x]: the cells (row-major index) an input event at row y, column x touches."""
    spans = []                      # per input row / column: first and last cell touched
    for n_in, n_out in ((in_shape[1], out_shape[1]), (in_shape[2], out_shape[2])):
        u = np.arange(n_in)
        spans += [np.maximum(0, u + pad - kernel + 1) // pool,
                  np.minimum(n_out - 1, u + pad) // pool]
    ylo, yhi, xlo, xhi = spans
    wc = -(-out_shape[2] // pool)
    return [[tuple(r * wc + k for r in range(ylo[y], yhi[y] + 1)
                   for k in range(xlo[x], xhi[x] + 1))
             for x in range(in_shape[2])] for y in range(in_shape[1])]


class _Stage:
    """One event stage's replay: its input (c, y, x) events per step, its output spikes."""

    def __init__(self, st: dict, out_times: np.ndarray):
        self.G = int(st["groups"])
        c, h, w = st["out_shape"]
        pool = st["pool"]
        self.wc = -(-w // pool)
        t = np.asarray(out_times).reshape(c, h // pool, w // pool)
        self.firing = {}            # time -> {cell: [channels firing then, ascending]}
        for c, cy, cx in zip(*np.nonzero(t < SILENT)):
            cell = int(cy) * self.wc + int(cx)
            self.firing.setdefault(int(t[c, cy, cx]), {}).setdefault(cell, []).append(int(c))
        self.windows = _windows(st["kernel"], st["pad"], pool, tuple(st["in_shape"]),
                                tuple(st["out_shape"]))
        self.lanes = int(st["lanes"])

    def dirty(self, ys, xs) -> list[int]:
        """Cells (row-major index, ascending) the events at rows ys, columns xs touch."""
        cells = set()
        for y, x in zip(ys, xs):
            cells.update(self.windows[y][x])
        return sorted(cells)

    def entries(self, cells: list[int], u: int) -> list[tuple[int, int, list[int]]]:
        """(rank in the pass, group, channels) of the entries the compare of step u pushes."""
        firing = self.firing.get(u + 1)
        if not firing:
            return []
        out = []
        for rank, cell in enumerate(cells):
            chans = firing.get(cell)
            if chans is None:
                continue
            for g in sorted({c // self.lanes for c in chans}):
                out.append((rank * self.G + g, g, [c for c in chans if c // self.lanes == g]))
        return out

    def run(self, items) -> tuple[list, int]:
        """Replay ``items`` [(earliest start, kind, payload)] in order: kind "event" with
        payload (y, x, step), or "close" with the step. Returns the pushes [(cycle, kind,
        payload)] -- "entry" with [(channel, cell row, cell column, time)], "marker" with the
        time -- and the stage's last busy cycle."""
        pushes, free, last, step_events = [], 0, 0, {}
        for avail, kind, payload in items:
            start = max(avail, free)
            if kind == "event":
                y, x, t = payload
                step_events.setdefault(t, []).append((y, x))
                free = start + self.G
                last = max(last, free - 1 + DATA)        # the last issue's data cycle
                continue
            u = payload
            evs = step_events.pop(u, [])
            cells = self.dirty(*zip(*evs)) if u != LAST_STEP and evs else []
            ents = self.entries(cells, u)
            for off, g, chans in ents:
                cy, cx = divmod(cells[off // self.G], self.wc)
                pushes.append((start + off + PUSH, "entry", [(c, cy, cx, u + 1) for c in chans]))
            free = start + max(1, len(cells) * self.G)  # the close is taken in free - 1
            last = max(last, free - 1 + OUT)             # the taken close at the pooling
            if ents:
                pushes.append((free + PUSH, "marker", u + 1))
                last = max(last, free + PUSH)
        return pushes, last


def _queue_items(pushes: list) -> list:
    """The next stage's items from the pushes of the stage below: an element pushed in
    cycle p offers its first item from p + QUEUE (FIFO, the expander, its output register)."""
    items = []
    for p, kind, payload in pushes:
        if kind == "marker":
            items.append((p + QUEUE, "close", payload))
            continue
        for k, (c, y, x, t) in enumerate(payload):
            items.append((p + QUEUE if k == 0 else 0, "event", (y, x, t)))
    return items


def _front_items(ev_times, ev_addrs, in_shape) -> list:
    """Stage 0's items: the image's events and the close of each step with events."""
    _, h, w = in_shape
    items, prev = [], None
    for t, a in zip(np.asarray(ev_times).tolist(), np.asarray(ev_addrs).tolist()):
        if prev is not None and t != prev:
            items.append((FRONT, "close", prev))
        items.append((FRONT, "event", ((a % (h * w)) // w, a % w, t)))
        prev = t
    items.append((FRONT, "close", prev))
    return items


def predict_conv_cycles(ev_times, ev_addrs, spikes, *, full: bool, timing: dict) -> int:
    """Cycles of one image on the conv core (``timing``: ``ConvCore.timing``; ``spikes``:
    every layer's spike times, pooling included, as in a full run)."""
    if len(ev_times) == 0:
        raise ValueError("an image needs at least one event")
    stages = timing["stages"]
    items, last = _front_items(ev_times, ev_addrs, stages[0]["in_shape"]), 0
    for st in stages:
        out = st["pool_index"] if st["pool_index"] is not None else st["conv_index"]
        pushes, busy = _Stage(st, spikes[out]).run(items)
        last = max(last, busy)
        items = _queue_items(pushes)
    tokens = [(p + FLAT, t - 1) for p, kind, t in pushes if kind == "marker"]
    delays = [int(d) for d in timing["layer_delays"]]
    E, A, O = (int(timing[k]) for k in ("decision_delay", "argmax_delay", "output_delay"))
    k = len(delays)
    out = np.asarray(spikes[-1])
    first = int(out.min())
    winners = int((out == first).sum())
    if not full and first < SILENT:
        at = dict((s, p) for p, s in tokens)[first - 1 - k]
        return at + sum(delays) + 1 + E + O + (A if winners > 1 else 0)
    z = last
    for p, s in tokens:
        depth = max(0, min(k, LAST_STEP - s))
        z = max(z, p + sum(delays[:depth]) + (E if depth == k else 0))
    return z + 2 + O + (A if first >= SILENT or winners > 1 else 0)
