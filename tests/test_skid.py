"""hdl/skid.py: every word once, in order, under random valid/ready; full throughput."""
from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from hdl.skid import SkidBuffer


@pytest.mark.parametrize("p_valid, p_ready", [(1.0, 1.0), (0.7, 0.5), (0.3, 0.9), (1.0, 0.2)])
def test_order_and_throughput(p_valid, p_ready):
    dut = SkidBuffer(12)
    words = list(range(1, 301))
    got, cycles = [], [0]
    rng = random.Random(int(p_valid * 10 + p_ready * 100))

    async def bench(ctx):
        k = 0
        offered = False
        while len(got) < len(words):
            if not offered and k < len(words) and rng.random() < p_valid:
                offered = True                          # never withdrawn once offered
            ctx.set(dut.i.valid, offered)
            ctx.set(dut.i.payload, words[k] if k < len(words) else 0)
            ctx.set(dut.o.ready, rng.random() < p_ready)
            _, _, i_ready, o_valid, o_ready, o_payload = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.ready, dut.o.payload)
            if offered and i_ready:
                k += 1
                offered = False
            if o_valid and o_ready:
                got.append(o_payload)
            cycles[0] += 1
            assert cycles[0] < 20 * len(words)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == words
    if p_valid == 1.0 and p_ready == 1.0:
        assert cycles[0] <= len(words) + 2          # one word per cycle
