"""``events_per_cycle`` (docs/core.md): a core that takes up to K input events of one step
per cycle.

Amaranth simulations of small random networks (tests/test_core.py's ``check``: every spike
time, decision and cycle count against the golden model and hdl/cycle_model.py) with steps
of odd and even event counts and of one event, runtime weights; the cocotb bench (Icarus) on
an exported network's test and stress vectors, also with DSP48E1 counters; the beat packing,
the cycle model's beat count, the payload layout, the fit check's read ports and the
parameter's validation.
"""
from __future__ import annotations

import numpy as np
import pytest

from hdl import boards, fit
from hdl.core import BS4NNCore, CoreNetwork
from hdl.cycle_model import predict_cycles
from hdl.event_beats import beat_starts, beats
from hdl.weight_loader import load_words
from model.network import forward_times
from sim.amaranth_run import simulate
from tests.test_board_build import small_net
from tests.test_core import NETS, check, random_images, random_net, to_events
from tests.test_runtime_weights import check_results

S = 256
TM = {"groups": 1, "rom_reg": 1, "layer_delays": [3], "decision_delay": 0,
      "output_delay": 0, "argmax_delay": 2}


# ----------------------------------------------------------------------------- no simulator

def test_beats_split_steps_in_stream_order():
    times = [0, 0, 0, 1, 2, 2, 2, 2, 5]
    addrs = list(range(9))
    assert beats(times, addrs, 2) == [(0, (0, 1)), (0, (2,)), (1, (3,)), (2, (4, 5)),
                                      (2, (6, 7)), (5, (8,))]
    assert beats(times, addrs, 3) == [(0, (0, 1, 2)), (1, (3,)), (2, (4, 5, 6)), (2, (7,)),
                                      (5, (8,))]
    assert beats(times, addrs, 1) == [(t, (a,)) for t, a in zip(times, addrs)]
    assert beat_starts([7], 2).tolist() == [0] and beat_starts([], 2).tolist() == []


def test_cycle_model_counts_beats():
    tr = [np.array([3, S]), np.array([4])]
    # K = 1: step 2 closes after 4 events, c0(2) = 4 + 2 = 6, layer 1 compares step 3 at 9.
    assert predict_cycles([0, 0, 0, 2], tr, full=False, timing=TM) == 10
    assert predict_cycles([0, 0, 0, 2], tr, full=False, timing=dict(TM, events_per_cycle=1)) == 10
    # K = 2: step 0 takes two beats (3 events), step 2 one: c0(2) = 3 + 2 = 5.
    assert predict_cycles([0, 0, 0, 2], tr, full=False, timing=dict(TM, events_per_cycle=2)) == 9
    # K = 4: one beat per step.
    assert predict_cycles([0, 0, 0, 2], tr, full=False, timing=dict(TM, events_per_cycle=4)) == 8
    # groups multiply beats: 4 groups x 3 beats.
    g4 = dict(TM, groups=4, events_per_cycle=2)
    assert predict_cycles([0, 0, 0, 2], tr, full=False, timing=g4) == 4 * 3 + 2 + 3 + 1


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_parameter_checked_and_in_timing():
    ws, th = random_net(np.random.default_rng(0), [8, 4, 2], [1, 1])
    net = CoreNetwork.from_weights(ws, th)
    for bad in (0, 9, 1.5, True, None):
        with pytest.raises(ValueError, match="events_per_cycle"):
            BS4NNCore(net, events_per_cycle=bad)
    assert BS4NNCore(net).timing["events_per_cycle"] == 1
    assert BS4NNCore(net, events_per_cycle=3, lanes=3).timing["events_per_cycle"] == 3


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_payload_layout_and_bench_packing():
    from sim.harness import event_payloads
    from sim.layout import port_layouts
    ws, th = random_net(np.random.default_rng(1), [16, 4, 2], [1, 1])
    f = port_layouts(BS4NNCore(CoreNetwork.from_weights(ws, th), events_per_cycle=3))
    f = f["i_event"]["fields"]
    assert set(f) == {"time", "addr", "last", "more_addr[0]", "more_addr[1]", "more_valid"}
    assert f["time"] == [0, 8] and f["addr"] == [8, 4] and f["last"] == [12, 1]
    times, addrs = [0, 0, 0, 0, 3, 9, 9], [1, 4, 5, 7, 2, 0, 15]
    got = event_payloads(np.array(times), np.array(addrs), f).tolist()
    field = lambda x, name: (x >> f[name][0]) & ((1 << f[name][1]) - 1)
    unpacked = []
    for x in got:
        n_more = bin(field(x, "more_valid")).count("1")
        unpacked.append((field(x, "time"), (field(x, "addr"),
                         *[field(x, f"more_addr[{j}]") for j in range(n_more)]), field(x, "last")))
    want = beats(times, addrs, 3)
    assert unpacked == [(t, a, int(k == len(want) - 1)) for k, (t, a) in enumerate(want)]


def test_command_line_option_round_trip():
    import argparse
    from hdl.core_options import add_core_arguments, core_cli_args, core_kwargs
    ap = argparse.ArgumentParser()
    add_core_arguments(ap)
    assert core_kwargs(ap.parse_args([]))["events_per_cycle"] == 1
    kw = core_kwargs(ap.parse_args(["--events-per-cycle", "2", "--lanes", "7"]))
    assert kw["events_per_cycle"] == 2
    assert core_cli_args(kw) == ["--events-per-cycle", "2", "--lanes", "7"]
    assert core_cli_args({"events_per_cycle": 1}) == []


def test_fit_check_read_ports():
    assert fit.bram_blocks("xc7", 784, 600, reads=2) == 17          # one TDP copy: two reads
    assert fit.bram_blocks("xc7", 784, 600, reads=3) == 34
    assert fit.bram_blocks("xc7", 784, 600, reads=2, written=True) == 34
    assert fit.bram_blocks("ice40", 784, 64, reads=2) == 32         # one read port per EBR
    assert fit.bram_blocks("xc7", 512, 72, reads=2) == 2            # 512 x 72 is SDP only
    authors = small_net((784, 600, 10), (25, 12))
    arty = boards.BOARDS["arty"]
    params = boards.board_core_params(arty, authors, {"events_per_cycle": 2})
    ok, lines = fit.fit_check(authors, params, arty, arty.event_capacity, arty.image_capacity)
    assert ok and any("17 BRAM36 (2 reads per cycle)" in l for l in lines)
    assert any("block RAM total      20 / 50" in l for l in lines)
    params = boards.board_core_params(arty, authors, {"events_per_cycle": 4})
    ok, lines = fit.fit_check(authors, params, arty, arty.event_capacity, arty.image_capacity)
    assert ok and any("block RAM total      38 / 50" in l for l in lines)   # 34 + beats


def test_board_packs_beats_run_and_batch():
    """The board link (simulated UART): the receiver packs RUN and LOAD events into beats,
    the player plays them; every result is the golden model's, every RUN's cycle count the
    cycle model's, and a batch's buffer holds fewer entries than events."""
    from hdl.board import SerialLink
    from hdl.host import check_result
    from hdl.link_client import Client, SimTransport
    from tests.test_board_core import DIV, random_case
    ws, thetas, events, gold = random_case(21, n_images=3)
    events.append(([5, 5, 5, 9, 9, 200], [1, 7, 30, 2, 3, 63]))      # odd, even, single
    s_in = np.full((1, 64), 255, np.int16)
    s_in[0, [1, 7, 30]], s_in[0, [2, 3]], s_in[0, 63] = 5, 9, 200
    extra = forward_times(s_in, ws, thetas)
    core = BS4NNCore(CoreNetwork.from_weights(ws, thetas), debug_port=False, events_per_cycle=2)
    dut = SerialLink(core, divisor=DIV, n_in=64, event_capacity=256, image_capacity=8,
                     timeout=600)
    client = Client(SimTransport(dut, divisor=DIV, max_cycles=500_000))
    r = client.run(*events[-1])
    assert (r.label, r.step) == (int(extra.decision.label[0]), int(extra.decision.step[0]))
    assert r.cycles == predict_cycles(events[-1][0], [sp[0] for sp in extra.spikes],
                                      full=False, timing=core.timing)
    for n, (t, a) in enumerate(events[:2]):
        r = client.run(t, a)
        assert check_result(gold, n, r) == []
    ack = client.load(events[:3])
    assert ack.images == 3
    assert ack.events == sum(len(beats(t, a, 2)) for t, a in events[:3])
    assert ack.events < sum(len(t) for t, _ in events[:3])
    results, done = client.batch(3)
    for n, r in enumerate(results):
        assert check_result(gold, n, r) == [], f"batch image {n}"
    assert done.images == 3


# ----------------------------------------------------------------------------- Amaranth

@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("lanes", [None, 7])
def test_random_networks_two_events(name, lanes):
    widths, thetas = NETS[name]
    rng = np.random.default_rng(4000 + 10 * len(widths) + (lanes or 0))
    ws, th = random_net(rng, widths, thetas)
    s_in = random_images(rng, 1, widths[0], 4)
    for full in (True, False):
        check(widths, ws, th, s_in, lanes=lanes, full=full, debug=False, events_per_cycle=2)
    check(widths, ws, th, s_in[:2], lanes=lanes, full=True, debug=True, events_per_cycle=2)


def step_shapes(n_in: int) -> np.ndarray:
    """Images whose steps have one event, odd and even counts, and everything at one step."""
    s = np.full((7, n_in), 255, np.int16)
    s[0, :40] = np.arange(40) * 3                    # every step holds one event
    counts = [1, 2, 3, 4, 5, 6, 7, 1, 9, 2]          # odd and even steps in a row
    s[1, :sum(counts)] = np.repeat(np.arange(len(counts)) * 5 + 1, counts)
    s[2, :] = 0                                      # all inputs at step 0 (even)
    s[3, 1:] = 4                                     # one step of n_in - 1 (odd) events
    s[4, 9] = 0                                      # a single event
    s[5, [3, 8, 20]] = 254                           # three events at the last compared step
    s[6, ::2] = np.arange(0, n_in, 2) % 11           # odd and even steps, not in address order
    return s


@pytest.mark.parametrize("k", [2, 3])
def test_odd_even_and_single_event_steps(k):
    widths, thetas = NETS["64-24-16-10"]
    rng = np.random.default_rng(40 + k)
    ws, th = random_net(rng, widths, thetas)
    s_in = step_shapes(widths[0])
    for full in (True, False):
        check(widths, ws, th, s_in, full=full, debug=False, events_per_cycle=k)
    check(widths, ws, th, s_in, full=True, debug=True, events_per_cycle=k)


def test_two_events_narrow_lanes_and_short_pipeline():
    widths, thetas = NETS["64-32-10"]
    rng = np.random.default_rng(17)
    ws, th = random_net(rng, widths, thetas)
    s_in = np.concatenate([random_images(rng, 1, widths[0], 2), step_shapes(widths[0])[:2]])
    for params in ({"lanes": 5}, {"tree_levels": None, "rom_reg": False}):
        for full in (True, False):
            check(widths, ws, th, s_in, full=full, debug=False, events_per_cycle=2, **params)


def test_runtime_weights_two_events():
    widths = [40, 20, 10]
    rng = np.random.default_rng(23)
    ws, th = random_net(rng, widths, [3, 2])
    s_in = random_images(rng, 1, widths[0], 4)
    core = BS4NNCore(CoreNetwork.from_weights(ws, th), runtime_weights=True, events_per_cycle=2)
    events = [to_events(s) for s in s_in]
    loads = {0: load_words(CoreNetwork.from_weights(ws, th))}
    gold = forward_times(s_in, ws, th)
    for full in (True, False):
        results = simulate(core, events, full=full, loads=loads)
        check_results(results, gold, events, core.timing, full=full, debug=False)


# ----------------------------------------------------------------------------- cocotb (Icarus)

@pytest.fixture(scope="module")
def small_art(tmp_path_factory, data_dir):
    from tests.small_net import export_random_net
    return export_random_net(tmp_path_factory.mktemp("dual"), data_dir, 40)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_cycles_cli_with_the_parameter(small_art, capsys):
    from hdl.cycles import main
    assert main([str(small_art), "--config", "one:", "--config", "two:events_per_cycle=2"]) == 0
    rows = {}
    for line in capsys.readouterr().out.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[0] in ("one", "two") and parts[1] == "early":
            rows[parts[0]] = float(parts[2])
    assert rows["two"] < rows["one"]
    assert main([str(small_art), "--config", "x:events_per_cycle=0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "events_per_cycle" in err


@pytest.mark.icarus
@pytest.mark.parametrize("mode", ["early", "full"])
def test_icarus_two_events_vectors_and_stress(small_art, tmp_path, mode):
    """The exported network's test vectors and stress cases through the bench harness
    (beats packed by sim/harness.py), every spike checked, random idle cycles and
    back-pressure on every third image, cycle counts strict."""
    from tests.test_sim import need, regress
    need("icarus")
    s = regress(small_art, tmp_path, mode, "--simulator", "icarus", "--mode", mode,
                "--random-every", 3, "--strict-cycles", "--events-per-cycle", 2,
                "--build-root", tmp_path / "sim_build")
    assert s["mismatches"] == 0 and s["cycle_differences"] == 0
    assert s["vector_images"] == 40 and s["stress_images"] > 0


@pytest.mark.icarus
def test_icarus_two_events_dsp48_counters(small_art, tmp_path):
    """Counters in DSP48E1 SIMD lanes stepping by -2..+2 (Yosys's model of the primitive)."""
    from tests.test_sim import need, regress
    need("icarus")
    s = regress(small_art, tmp_path, "dsp", "--simulator", "icarus", "--mode", "full",
                "--random-every", 4, "--strict-cycles", "--events-per-cycle", 2,
                "--dsp-neurons", 24, "--tree-counter", 6, "--build-root", tmp_path / "sim_build")
    assert s["mismatches"] == 0 and s["cycle_differences"] == 0 and s["stress_images"] > 0
