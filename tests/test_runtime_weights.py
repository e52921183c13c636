"""Runtime-loaded weights (``BS4NNCore(..., runtime_weights=True)``, docs/core.md): one core
instance of a shape takes two different networks one after the other through ``i_load``;
every spike time, decision and cycle count is the golden model's and the cycle model's, and
the cycle counts are the ROM builds' wherever the two builds have the same timing.
"""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.core import BS4NNCore, CoreNetwork
from hdl.cycle_model import predict_cycles
from hdl.weight_loader import load_words
from model.network import forward_times
from sim.amaranth_run import simulate
from tests.test_core import random_images, random_net, to_events


def check_results(results, gold, events, timing, *, full, debug):
    L = len(gold.spikes)
    d = gold.decision
    for n, r in enumerate(results):
        want = (int(d.label[n]), int(d.step[n]), bool(d.tie[n]), bool(d.no_spike[n]))
        assert (r["label"], r["step"], r["tie"], r["no_spike"]) == want, f"image {n}"
        if debug:
            seen = {(l, j): t for l, j, t in r["spikes"]}
            for l in range(L):
                hw = [seen.get((l, j), 256) for j in range(gold.spikes[l].shape[1])]
                assert hw == gold.spikes[l][n].tolist(), f"image {n} layer {l}"
        else:
            want_c = predict_cycles(events[n][0], [s[n] for s in gold.spikes], full=full,
                                    timing=timing)
            assert r["cycles"] == want_c, f"image {n}: {r['cycles']} cycles, model {want_c}"


# 40-20-10: the runtime trees have the ROM build's depth (same cycles); 48-24-12-10: the last
# layer's runtime tree is one register deeper (its own cycle model).
@pytest.mark.parametrize("widths,lanes,same_timing", [([40, 20, 10], None, True),
                                                      ([48, 24, 12, 10], 7, False)])
def test_two_networks_one_core(widths, lanes, same_timing):
    rng = np.random.default_rng(7 + len(widths))
    nets = []
    for thetas in ([3, 2, 2][:len(widths) - 1], [1, widths[1], 1][:len(widths) - 1]):
        ws, th = random_net(rng, widths, thetas)
        nets.append((ws, th, random_images(rng, 1, widths[0], 5)))
    core = BS4NNCore(CoreNetwork.from_weights(*nets[0][:2]), lanes=lanes, runtime_weights=True)
    for full, debug in ((False, False), (True, True)):
        images, loads, per_net = [], {}, []
        for ws, th, s_in in nets:
            loads[len(images)] = load_words(CoreNetwork.from_weights(ws, th))
            ev = [to_events(s) for s in s_in]
            per_net.append((ws, th, s_in, ev, len(images)))
            images += ev
        results = simulate(core, images, full=full, debug=debug, loads=loads)
        for ws, th, s_in, ev, first in per_net:
            got = results[first:first + len(ev)]
            check_results(got, forward_times(s_in, ws, th), ev, core.timing, full=full,
                          debug=debug)
            if not debug:
                rom = BS4NNCore(CoreNetwork.from_weights(ws, th), lanes=lanes)
                rom_cycles = [r["cycles"] for r in simulate(rom, ev, full=full)]
                assert (rom.timing == core.timing) == same_timing
                if same_timing:
                    assert [r["cycles"] for r in got] == rom_cycles


def test_no_image_before_a_complete_load():
    """Events wait (i_event.ready low) until the load is complete; a load can restart."""
    rng = np.random.default_rng(3)
    ws, th = random_net(rng, [16, 8, 4], [2, 2])
    net = CoreNetwork.from_weights(ws, th)
    core = BS4NNCore(net, runtime_weights=True)
    words = load_words(net)
    seen = {}

    async def bench(ctx):
        ctx.set(core.i_event.valid, 1)
        ctx.set(core.i_event.payload.last, 1)
        ctx.set(core.o_result.ready, 1)
        for k, w in enumerate(words[:-1] + words):       # a partial load, then a whole one
            ctx.set(core.i_load.valid, 1)
            ctx.set(core.i_load.payload.data, w)
            ctx.set(core.i_load.payload.first, int(k in (0, len(words) - 1)))
            while True:
                _, _, ld_ready, ev_ready, loaded = await ctx.tick().sample(
                    core.i_load.ready, core.i_event.ready, core.loaded)
                assert not ev_ready and not loaded, f"event taken during the load (word {k})"
                if ld_ready:
                    break
        ctx.set(core.i_load.valid, 0)
        for _ in range(3):
            await ctx.tick()
        seen["loaded"] = ctx.get(core.loaded)
        await ctx.tick().until(core.o_result.valid)
        seen["result"] = True

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run_until(1e-4)
    assert seen == {"loaded": 1, "result": True}


def test_board_loads_two_networks_over_the_link():
    """WEIGHTS frames (hdl/protocol.py) through the simulated UART into a runtime-weights
    core behind SerialLink: RUN before a load is refused, then two networks of one shape
    one after the other (several frames each), every RESULT the golden one; a corrupted
    WEIGHTS frame leaves no network."""
    from hdl import protocol as P
    from hdl.board import SerialLink
    from hdl.host import check_result
    from hdl.link_client import Client, SimTransport
    from tests.test_board_core import DIV, random_case

    cases = [random_case(seed, widths=(20, 10, 4), thetas=th, n_images=2)
             for seed, th in ((21, (3, 2)), (22, (1, 3)))]
    core = BS4NNCore(CoreNetwork.from_weights(*cases[0][:2]), runtime_weights=True,
                     debug_port=False)
    link = SerialLink(core, divisor=DIV, n_in=20, event_capacity=64, image_capacity=4,
                      timeout=600)
    client = Client(SimTransport(link, divisor=DIV, max_cycles=400_000))
    t, a = cases[0][2][0]
    client.send(P.encode_run(t, a))
    assert client.reply() == P.Error(P.ERR_NOT_LOADED, P.CMD_RUN)
    for ws, thetas, events, gold in cases:
        client.load_weights(load_words(CoreNetwork.from_weights(ws, thetas)), per_frame=7)
        for n, (t, a) in enumerate(events):
            assert check_result(gold, n, client.run(t, a)) == []
    bad = bytearray(P.encode_weights([1, 2])[0])
    bad[-1] ^= 0xFF                                   # checksum: the network is gone
    client.send(bytes(bad))
    assert client.reply() == P.Error(P.ERR_CHECKSUM, P.CMD_WEIGHTS)
    client.send(P.encode_run(t, a))
    assert client.reply() == P.Error(P.ERR_NOT_LOADED, P.CMD_RUN)
