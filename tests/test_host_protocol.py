"""Protocol encoders/decoders (hdl/protocol.py) and the host's golden-result check."""

import numpy as np
import pytest

from hdl import protocol as P
from hdl.host import check_result, golden_results


def test_frame_layout_and_checksum():
    f = P.encode_frame(P.CMD_RUN, b"\x01\x02\x03")
    assert f[0] == P.SYNC and f[1] == P.CMD_RUN and f[2:4] == b"\x03\x00"
    assert sum(f[1:]) % 256 == 0
    assert P.FrameDecoder().feed(f) == [(P.CMD_RUN, b"\x01\x02\x03")]


def test_events_round_trip():
    t = np.array([0, 3, 3, 254]); a = np.array([783, 1, 2, 0x7FFF])
    payload = P.encode_events(t, a, last=[False, True, False, True])
    rec = np.frombuffer(payload, np.uint8).reshape(-1, 3)
    assert list(rec[:, 0]) == list(t)
    addr = rec[:, 1].astype(int) | (rec[:, 2].astype(int) << 8)
    assert list(addr & 0x7FFF) == list(a)
    assert list(addr >> 15) == [0, 1, 0, 1]
    load = P.encode_load([([1, 2], [5, 6]), ([7], [8])])
    (cmd, body), = P.FrameDecoder().feed(load)
    assert cmd == P.CMD_LOAD and len(body) == 9 and body[5] & 0x80 and body[8] & 0x80
    assert not body[2] & 0x80


def test_result_round_trip():
    r = P.Result(label=7, step=42, tie=True, no_spike=False, cycles=123456,
                 times=tuple(range(250, 260)))
    assert P.decode_frames(P.encode_result(r)) == [r]


def test_decoder_streaming_and_garbage():
    frames = P.encode_frame(P.REP_ACK, b"\x01\x00\x02\x00") + P.encode_frame(P.REP_ERROR, b"\x03\x42")
    dec = P.FrameDecoder()
    out = []
    for b in b"\x00\x11" + frames:            # byte by byte, garbage first
        out += dec.feed(bytes([b]))
    assert [P.decode_reply(*f) for f in out] == [P.Ack(1, 2), P.Error(P.ERR_COMMAND, 0x42)]
    assert P.Error(P.ERR_COMMAND, 0x42).name == "unknown command"


def test_errors():
    bad = bytearray(P.encode_frame(P.REP_ACK, b"\x01\x00\x02\x00")); bad[-1] ^= 1
    with pytest.raises(P.ProtocolError, match="checksum"):
        P.FrameDecoder().feed(bytes(bad))
    with pytest.raises(P.ProtocolError, match="unknown reply"):
        P.decode_reply(0x99, b"")
    with pytest.raises(P.ProtocolError, match="RESULT"):
        P.decode_reply(P.REP_RESULT, b"\x00\x01")
    with pytest.raises(ValueError, match="at least one"):
        P.encode_run([], [])
    with pytest.raises(ValueError, match="0..255"):
        P.encode_events([256], [0])
    with pytest.raises(ValueError, match="addresses"):
        P.encode_events([0], [0x8000])
    with pytest.raises(ValueError, match="exceeds"):
        P.encode_frame(P.CMD_LOAD, bytes(70000))


def test_golden_check_early_mode():
    vec = {"spikes_1": np.array([[5, 9, 256]]), "step": np.array([4]), "label": np.array([0]),
           "tie": np.array([False]), "no_spike": np.array([False])}
    gold = golden_results(vec, 2)
    assert list(gold["times"][0]) == [5, 256, 256]     # 9 > step + 1 is not reported
    good = P.Result(label=0, step=4, tie=False, no_spike=False, cycles=1, times=(5, 256, 256))
    assert check_result(gold, 0, good) == []
    bad = P.Result(label=1, step=4, tie=False, no_spike=False, cycles=1, times=(5, 9, 256))
    diffs = check_result(gold, 0, bad)
    assert any("label is 1" in d for d in diffs) and any("differ at [1]" in d for d in diffs)


def test_serial_transport_loopback():
    """pyserial's loop:// echoes what is written: a RESULT frame comes back decoded."""
    from hdl.link_client import Client, SerialTransport
    r = P.Result(label=3, step=17, tie=False, no_spike=True, cycles=99, times=(18,) * 10)
    client = Client(SerialTransport("loop://", 115_200, timeout=0.5))
    client.send(b"\x00" + P.encode_result(r))
    assert client.reply() == r
    with pytest.raises(TimeoutError):
        client.reply()


def test_cli_refuses_missing_artifacts(tmp_path, capsys):
    from hdl.host import main
    assert main([str(tmp_path / "none"), "--port", "sim"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "none" in err
