"""The virtual board (sim/board.py): the board top in Verilator behind a loopback TCP socket.

A small random network is exported here (the network of tests/test_board_core.py, so one
Verilator build serves both files' reruns); ``python -m hdl.host`` runs unchanged against
the socket, a host disconnecting mid-frame leaves the board consistent, and a short
fault-injection run (sim/link_torture.py) passes its checks. sim/faults.py's receiver model
is checked on its own first.
"""
import socket
import struct
import subprocess
import sys

import numpy as np
import pytest

from contract.artifacts import load_artifacts
from hdl import protocol as P
from hdl.host import check_result, golden_results
from sim import board, faults, link_torture
from sim.board_launch import REPO, ServerProcess
from tests.small_net import export_random_net

CAPS = {"event_capacity": 4096, "image_capacity": 256}


@pytest.fixture(scope="module")
def small_artifacts(tmp_path_factory, data_dir):
    """A random 784-32-10 network exported with 8 MNIST golden vectors (fixed seed)."""
    return export_random_net(tmp_path_factory.mktemp("vboard"), data_dir, 8)


@pytest.fixture(scope="module")
def server(small_artifacts):
    with ServerProcess(small_artifacts) as s:
        yield s


# --- the receiver model and the faults (no simulation) ---------------------------------------

def test_receiver_view_predicts_errors():
    frame = P.encode_run([1, 2], [300, 7])
    assert faults.receiver_view(frame, **CAPS) == (
        [faults.Parsed(P.CMD_RUN, frame[4:-1], 0, 0, len(frame))], False)
    bad = frame[:-1] + bytes([frame[-1] ^ 1])
    assert faults.receiver_view(b"\x00\x13" + bad, **CAPS)[0][0].error == P.ERR_CHECKSUM
    assert faults.receiver_view(P.encode_frame(0x42), **CAPS)[0][0].error == P.ERR_COMMAND
    assert faults.receiver_view(P.encode_frame(P.CMD_RUN, b"\x01"), **CAPS)[0][0].error == P.ERR_LENGTH
    assert faults.receiver_view(P.encode_batch(), **CAPS)[0][0].error == P.ERR_EMPTY
    assert faults.receiver_view(frame[:5], **CAPS) == ([], True)


def test_faults_are_what_they_say():
    rng = np.random.default_rng(4)
    frame = P.encode_run(np.arange(20), np.arange(20) * 7)
    for _ in range(200):
        kind = str(rng.choice(faults.KINDS))
        case = faults.make_case(kind, frame, rng)
        if kind == "noise":
            assert case.data.endswith(frame) and P.SYNC not in case.data[:-len(frame)]
        elif kind in ("truncate", "disconnect"):
            assert frame.startswith(case.data) and 0 < len(case.data) < len(frame)
            assert case.disconnect == (kind == "disconnect")
        elif kind == "flip":
            assert len(case.data) == len(frame) and case.data != frame
        elif kind in ("drop", "dup"):
            assert 1 <= abs(len(case.data) - len(frame)) <= 3
        else:
            assert P.SYNC in case.data
    with pytest.raises(ValueError):
        faults.make_case("melt", frame, rng)


# --- the server ------------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["0.0.0.0:5555", "10.1.2.3:80", "[::]:0", "127.0.0.1"])
def test_refuses_other_addresses(address, capsys):
    assert board.main(["no-such-dir", "--listen", address]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --listen {address}")


def test_host_runs_unchanged_over_the_socket(server, small_artifacts):
    done = subprocess.run([sys.executable, "-m", "hdl.host", "--port", server.url,
                           str(small_artifacts), "--images", "4"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 images: 0 mismatches" in done.stdout
    status = server.status()
    assert status["end"] == "eof" and status["discarded"] == 0 and status["out"] > 0


def _exchange(server, data):
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(4096):
            out += chunk
    return P.decode_frames(out), server.status()


def test_disconnect_mid_frame_leaves_the_board_consistent(server, small_artifacts):
    art = load_artifacts(small_artifacts)
    gold = golden_results(art.vectors, art.n_layers)
    frame = P.encode_run(*art.events("vectors", 1))
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
        s.sendall(frame[:len(frame) // 2])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert server.status()["end"] in ("reset", "eof")
    # a whole frame whose reply the host never reads: the reply is discarded
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
        s.sendall(frame)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.status()
    replies, status = _exchange(server, frame)
    assert len(replies) == 1 and check_result(gold, 1, replies[0]) == []
    assert status["last_rx"] < status["last_tx"] < status["quiet"]


def test_sigterm_stops_the_server_cleanly(server):
    assert server.stop() == 0
    assert server.log[-1].startswith("stopped (signal) after ")


def test_link_torture_short_run(small_artifacts, capsys):
    assert link_torture.main([str(small_artifacts), "--frames", "120", "--seed", "3",
                              "--divisor", "8"]) == 0
    out = capsys.readouterr().out
    assert "120 faulty frames + 120 intact frames" in out and ": 0 failures" in out


def test_max_seconds_stops_the_server(small_artifacts, capsys):
    assert board.main([str(small_artifacts), "--listen", "127.0.0.1:0",
                       "--max-seconds", "0.5"]) == 0
    assert "stopped (max-seconds) after 0 connections" in capsys.readouterr().out
