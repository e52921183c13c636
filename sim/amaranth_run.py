"""Run BS4NNCore in the Amaranth simulator on a list of images' events (tests, benchmarks).

    results = simulate(core, [(times, addrs), ...], full=True, debug=True)
    results[n] = {"label", "step", "tie", "no_spike", "cycles", "times": [...],
                  "spikes": [(layer, neuron, time), ...]}

With ``loads`` (a runtime-weights core, docs/core.md) ``loads[k]``, a list of load words
(``hdl.weight_loader.load_words``), is streamed on ``i_load`` before image k.

The driver keeps `i_event.valid` high whenever it has an event (no bubbles) and holds
`o_result.ready` / `o_spike.ready` at 1, so `cycles` is what hdl/cycle_model.py predicts.
A core with ``events_per_cycle`` K > 1 gets its events in beats of up to K events of one
step (hdl/event_beats.py).
"""
from __future__ import annotations

import sys

from amaranth.sim import Simulator

from hdl.event_beats import beats


def _offer(ctx, ev, events, k):
    """Drive beat ``k`` of ``events`` (beats ``(time, addrs)``) on the stream ``ev`` (valid
    low past the end)."""
    if k >= len(events):
        ctx.set(ev.valid, 0)
        return
    t, (a, *more) = events[k]
    p = ev.payload
    ctx.set(ev.valid, 1)
    ctx.set(p.time, t)
    ctx.set(p.addr, a)
    ctx.set(p.last, int(k == len(events) - 1))
    if hasattr(p, "more_valid"):
        ctx.set(p.more_valid, (1 << len(more)) - 1)
        for j, x in enumerate(more):
            ctx.set(p.more_addr[j], x)


async def _load(ctx, port, words):
    """Stream one load (``first`` on word 0) on ``port``."""
    for k, w in enumerate(words):
        ctx.set(port.valid, 1)
        ctx.set(port.payload.data, w)
        ctx.set(port.payload.first, int(k == 0))
        await ctx.tick().until(port.ready)
    ctx.set(port.valid, 0)


def simulate(core, images, *, full: bool = True, debug: bool = False,
             max_cycles: int = 1_000_000, vcd: str | None = None,
             loads: dict | None = None) -> list[dict]:
    """images: list of (times, addrs) sequences (at least one event each)."""
    results: list[dict] = []

    async def bench(ctx):
        ev = core.i_event
        ctx.set(core.full, int(full))
        ctx.set(core.debug, int(debug))
        ctx.set(core.o_result.ready, 1)
        ctx.set(core.o_spike.ready, 1)
        for n_img, (times, addrs) in enumerate(images):
            if loads and n_img in loads:
                await _load(ctx, core.i_load, loads[n_img])
            if not len(times):
                raise ValueError("an image needs at least one event")
            events = beats(times, addrs, getattr(core, "events_per_cycle", 1))
            k, spikes, n = 0, [], 0
            while True:
                _offer(ctx, ev, events, k)
                _, _, ready, rv, res, sv, sp = await ctx.tick().sample(
                    ev.ready, core.o_result.valid, core.o_result.payload,
                    core.o_spike.valid, core.o_spike.payload)
                if ready and k < len(events):
                    k += 1
                if sv:
                    spikes.append((int(sp.layer), int(sp.neuron), int(sp.time)))
                if rv:
                    results.append({
                        "label": int(res.label), "step": int(res.step), "tie": bool(res.tie),
                        "no_spike": bool(res.no_spike), "cycles": int(res.cycles),
                        "times": [int(res.times[j]) for j in range(len(res.times))],
                        "spikes": spikes})
                    break
                n += 1
                if n > max_cycles:
                    raise RuntimeError(f"image {len(results)}: no result after {n} cycles")
            # Drain the rest of the image (early decision) before the next one.
            while k < len(events):
                _offer(ctx, ev, events, k)
                _, _, ready = await ctx.tick().sample(ev.ready)
                if ready:
                    k += 1
            ctx.set(ev.valid, 0)

    # Wide first-layer words (lanes x accumulator bits) make deep Python expressions.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return results
