"""The board's serial link in amaranth.sim: host frames in on the rx pin, replies off tx.

Uses a stand-in core (tests/board_standin.py) so the plumbing is checked on its own;
tests/test_board_core.py repeats the check with the real BS4NNCore and golden vectors.
"""

import numpy as np
import pytest

from hdl import protocol as P
from hdl.board import SerialLink
from hdl.link_client import Client, SimTransport
from tests.board_standin import StandInCore, expected

DIV = 4


def random_image(rng, n_events):
    addrs = np.sort(rng.choice(784, size=n_events, replace=False))
    times = np.sort(rng.integers(0, 255, size=n_events))
    return times, addrs


@pytest.fixture
def link():
    core = StandInCore()
    dut = SerialLink(core, divisor=DIV, n_in=784, event_capacity=48, image_capacity=4,
                     clk_freq=1_000_000, timeout=400)
    tr = SimTransport(dut, divisor=DIV, max_cycles=200_000)
    yield Client(tr), tr


def test_info(link):
    client, _ = link
    assert client.info() == P.Info(n_in=784, n_out=10, event_capacity=48, image_capacity=4,
                                   clk_hz=1_000_000)


def test_run_images(link):
    client, _ = link
    rng = np.random.default_rng(1)
    for n_events in (1, 2, 7):
        t, a = random_image(rng, n_events)
        assert client.run(t, a) == expected(t, a)


def test_batch(link):
    client, _ = link
    rng = np.random.default_rng(2)
    images = [random_image(rng, k) for k in (3, 1, 5)]
    assert client.load(images[:2]) == P.Ack(images=2, events=4)
    assert client.load(images[2:]) == P.Ack(images=3, events=9)
    results, done = client.batch(3)
    assert results == [expected(t, a) for t, a in images]
    assert done.images == 3
    # the stand-in stalls one cycle in four: at least one cycle per event, plus latency
    assert 9 <= done.cycles < 40
    # a RUN between batches does not disturb the loaded batch
    t, a = random_image(rng, 4)
    assert client.run(t, a) == expected(t, a)
    results2, _ = client.batch(3)
    assert results2 == results
    assert client.clear() == P.Ack(images=0, events=0)


def error_of(client, frame):
    client.send(frame)
    r = client.reply()
    assert isinstance(r, P.Error), r
    return r.code, r.command


def test_malformed_frames(link):
    client, tr = link
    good = P.encode_run([3, 4], [10, 20])
    bad_chk = good[:-1] + bytes([(good[-1] + 1) & 0xFF])
    assert error_of(client, bad_chk) == (P.ERR_CHECKSUM, P.CMD_RUN)
    assert error_of(client, P.encode_frame(0x42, b"\x01\x02")) == (P.ERR_COMMAND, 0x42)
    assert error_of(client, P.encode_frame(P.CMD_RUN, b"\x01\x02")) == (P.ERR_LENGTH, P.CMD_RUN)
    assert error_of(client, P.encode_frame(P.CMD_RUN)) == (P.ERR_LENGTH, P.CMD_RUN)
    assert error_of(client, P.encode_frame(P.CMD_BATCH, b"\x00")) == (P.ERR_LENGTH, P.CMD_BATCH)
    assert error_of(client, P.encode_batch()) == (P.ERR_EMPTY, P.CMD_BATCH)
    big = P.encode_run(np.arange(49) % 256, np.arange(49))
    assert error_of(client, big) == (P.ERR_OVERFLOW, P.CMD_RUN)
    five = [([1], [k]) for k in range(5)]
    assert error_of(client, P.encode_load(five)) == (P.ERR_OVERFLOW, P.CMD_LOAD)
    # garbage before a frame is skipped; a truncated frame is dropped after the timeout
    client.send(b"\x00\x13" + good[:6])
    tr.idle(1000)
    client.send(b"\x77" + good)
    assert client.reply() == expected([3, 4], [10, 20])
    # a failed LOAD leaves the batch as it was
    assert client.load([([5], [6])]) == P.Ack(images=1, events=1)
    bad_load = P.encode_load([([1, 2], [3, 4])])
    assert error_of(client, bad_load[:-1] + b"\x00") == (P.ERR_CHECKSUM, P.CMD_LOAD)
    results, done = client.batch(1)
    assert results == [expected([5], [6])] and done.images == 1


def test_leds_show_last_label(link):
    client, tr = link
    for addr, label in ((13, 3), (8, 8)):
        assert client.run([0], [addr]).label == label
        assert tr.leds == label
