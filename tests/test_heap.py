"""hdl/heap.py: pipelined carry-save sums, checked in the Amaranth simulator on random inputs."""
from __future__ import annotations

import random

import pytest
from amaranth import C, Module, Signal
from amaranth.sim import Simulator

from hdl.heap import Heap, HeapBuilder


@pytest.mark.parametrize("counter", [3, 6])
@pytest.mark.parametrize("levels", [None, 1, 3])
def test_popcount_differences(counter, levels):
    """pc(x) - 2 * pc(x & mask_k) - c_k for three masks: the deeper layers' potentials."""
    rng = random.Random(counter * 10 + (levels or 0))
    n, width = 37, 8
    consts = [5, 0, 17]
    masks = [[rng.random() < 0.4 for _ in range(n)] for _ in range(3)]

    def build(m, x):
        hb = HeapBuilder(m, en=C(1, 1), levels_per_stage=levels, name="t",
                         counter_inputs=counter)
        every = Heap(6)
        for i in range(n):
            every.add_bit(x[i])
        subs = []
        for mk in masks:
            h = Heap(6)
            for i in range(n):
                if mk[i]:
                    h.add_bit(x[i])
            subs.append(h)
        hb.compress([every] + subs)
        sums = []
        for h, c in zip(subs, consts):
            v = Heap(width)
            v.add_rows(hb.rows(every))
            v.add_rows(hb.rows(h), scale=1, negate=True)
            v.add_const(-c)
            sums.append(v)
        return hb.finish(sums, ["o0", "o1", "o2"]), hb.stages

    x = Signal(n)
    m = Module()
    outs, latency = build(m, x)
    assert build(None, Signal(n))[1] == latency      # a dry run predicts the latency
    if levels is None:
        assert latency == 1

    inputs = [rng.getrandbits(n) for _ in range(40)]

    async def bench(ctx):
        for k, v in enumerate(inputs + [0] * latency):
            ctx.set(x, v)
            await ctx.tick()
            j = k - latency + 1
            if 0 <= j < len(inputs):
                bits = [(inputs[j] >> i) & 1 for i in range(n)]
                for o, mk, c in zip(outs, masks, consts):
                    want = sum(bits) - 2 * sum(b for b, f in zip(bits, mk) if f) - c
                    assert ctx.get(o) == want

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_bad_parameters():
    with pytest.raises(ValueError, match="levels_per_stage"):
        HeapBuilder(None, en=C(1, 1), levels_per_stage=0, name="x")
    with pytest.raises(ValueError, match="counter_inputs"):
        HeapBuilder(None, en=C(1, 1), levels_per_stage=None, name="x", counter_inputs=4)
    with pytest.raises(ValueError, match="width"):
        Heap(0)
