"""hdl/image_player.py: every buffered event once, in order, under random back-pressure, and one
event per cycle when the core is always ready (the read-ahead keeps up with its latency)."""

import random

import pytest
from amaranth import Module
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from hdl.image_player import ImagePlayer

EVENT = data.StructLayout({"addr": 10, "last": 1})
RESULT = data.StructLayout({"label": 4})
CAPACITY = 64


def bench(words):
    m = Module()
    m.submodules.player = player = ImagePlayer(event_layout=EVENT, result_layout=RESULT,
                                               event_capacity=CAPACITY, image_capacity=4)
    init = [{"addr": w, "last": 0} for w in words]
    m.submodules.events = events = Memory(shape=EVENT, depth=CAPACITY, init=init)
    m.submodules.results = results = Memory(shape=RESULT, depth=4, init=[])
    wiring.connect(m, events.read_port(), player.events)
    wiring.connect(m, player.results, results.write_port())
    return m, player


@pytest.mark.parametrize("ready_share", [1.0, 0.5])
def test_events_in_order(ready_share):
    words = list(range(100, 100 + 40))
    m, player = bench(words)
    rng = random.Random(7)
    got, accepted_at = [], []

    async def testbench(ctx):
        ctx.set(player.i_run.payload, {"first": 3, "end": 33, "images": 1})
        ctx.set(player.i_run.valid, 1)
        for cycle in range(400):
            ready = rng.random() < ready_share
            ctx.set(player.o_event.ready, ready)
            if ctx.get(player.o_event.valid) and ready:
                got.append(ctx.get(player.o_event.payload.addr))
                accepted_at.append(cycle)
                if len(got) == 30:          # the run's one result, after its last event
                    ctx.set(player.i_result.valid, 1)
            await ctx.tick()
            ctx.set(player.i_result.valid, 0)
            if ctx.get(player.i_run.ready):
                ctx.set(player.i_run.valid, 0)
                break
        else:
            raise AssertionError("the run never finished")

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert got == words[3:33]
    if ready_share == 1.0:
        assert accepted_at == list(range(accepted_at[0], accepted_at[0] + 30))
