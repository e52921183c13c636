"""The board link with the real BS4NNCore, in amaranth.sim, checked against the golden model.

The host's code (hdl/host.py Client) encodes the frames, the simulated UART carries them bit
by bit at a 4-cycle divisor, and every RESULT is compared with model.network.forward_times:
single RUN frames, a LOAD + BATCH throughput run, malformed frames in between, and the
golden vectors of an artifact directory exported here from a small random network.
"""

import numpy as np
import pytest

from contract.artifacts import load_artifacts
from contract.numerics import LAST_STEP
from hdl import protocol as P
from hdl.board import SerialLink
from hdl.core import BS4NNCore, CoreNetwork
from hdl.host import check_result, golden_results, run_check
from hdl.link_client import Client, SimTransport
from model.network import forward_times
from tests.small_net import export_random_net

DIV = 4


def random_case(seed, widths=(64, 32, 10), thetas=(6, 3), n_images=4):
    rng = np.random.default_rng(seed)
    ws = [rng.choice(np.array([-1, 1], np.int8), size=(widths[l + 1], widths[l]))
          for l in range(len(widths) - 1)]
    s = np.full((n_images, widths[0]), LAST_STEP, np.int16)        # zero pixels
    for k in range(n_images):
        active = rng.random(widths[0]) < rng.uniform(0.1, 0.5)
        s[k, active] = rng.integers(0, LAST_STEP, active.sum())
    events = []
    for row in s:          # events sorted by (time, address); zero pixels send none
        order = [int(i) for i in np.lexsort((np.arange(len(row)), row)) if row[i] < LAST_STEP]
        events.append(([int(row[i]) for i in order], order) if order else ([LAST_STEP], [0]))
    gold = forward_times(s, ws, list(thetas))
    d = gold.decision
    vectors = {"label": d.label, "step": d.step, "tie": d.tie, "no_spike": d.no_spike,
               f"spikes_{len(ws) - 1}": gold.spikes[-1]}
    return ws, list(thetas), events, golden_results(vectors, len(ws))


def make_client(ws, thetas, lanes=None):
    core = BS4NNCore(CoreNetwork.from_weights(ws, thetas), lanes=lanes, debug_port=False)
    dut = SerialLink(core, divisor=DIV, n_in=len(ws[0][0]), event_capacity=256,
                     image_capacity=8, timeout=600)
    tr = SimTransport(dut, divisor=DIV, max_cycles=500_000)
    return Client(tr), tr


@pytest.mark.parametrize("lanes", [None, 8])
def test_run_and_batch_match_golden(lanes):
    ws, thetas, events, gold = random_case(3 + (lanes or 0))
    client, _ = make_client(ws, thetas, lanes)
    for n, (t, a) in enumerate(events[:2]):
        r = client.run(t, a)
        assert check_result(gold, n, r) == []
    client.load(events)
    results, done = client.batch(len(events))
    for n, r in enumerate(results):
        assert check_result(gold, n, r) == [], f"batch image {n}"
    assert done.images == len(events)
    # the batch's cycles cover every image back to back: at least one cycle per event
    assert done.cycles >= sum(len(t) for t, _ in events)
    # ... and not much more than the images' own cycles plus draining events after an early
    # decision
    assert done.cycles <= sum(r.cycles for r in results) + sum(len(t) for t, _ in events) * 4 + 10 * len(events)


def test_malformed_frames_between_images():
    ws, thetas, events, gold = random_case(11, n_images=2)
    client, tr = make_client(ws, thetas)
    frame = P.encode_run(*events[0])
    client.send(frame[:-1] + bytes([frame[-1] ^ 0x5A]))
    assert client.reply() == P.Error(P.ERR_CHECKSUM, P.CMD_RUN)
    client.send(P.encode_frame(0x7E, b"abc"))
    assert client.reply() == P.Error(P.ERR_COMMAND, 0x7E)
    client.send(P.encode_frame(P.CMD_RUN, b"\x01\x02\x03\x04"))
    assert client.reply() == P.Error(P.ERR_LENGTH, P.CMD_RUN)
    client.send(frame[:5])           # truncated: dropped after the timeout
    tr.idle(2000)
    assert check_result(gold, 1, client.run(*events[1])) == []
    assert check_result(gold, 0, client.run(*events[0])) == []


@pytest.fixture(scope="module")
def small_artifacts(tmp_path_factory, data_dir):
    """A random 784-32-10 network exported with 3 MNIST golden vectors (fixed seed)."""
    return load_artifacts(export_random_net(tmp_path_factory.mktemp("board_core"), data_dir, 3))


def test_artifact_vectors(small_artifacts):
    """An exported artifact directory's golden vectors, RUN one by one and as a batch."""
    art = small_artifacts
    core = BS4NNCore(art, debug_port=False)
    dut = SerialLink(core, divisor=DIV, n_in=art.widths[0], event_capacity=1024,
                     image_capacity=4)
    client = Client(SimTransport(dut, divisor=DIV, max_cycles=2_000_000))
    s = run_check(client, art, 3, log=lambda *_: None)
    assert s["images"] == 3
    assert s["mismatches"] == []
