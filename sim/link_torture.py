"""Fault injection on the virtual board's link: corrupted frames, each followed by a valid one.

    python -m sim.link_torture ARTIFACTS --frames 10000 --seed 1 [--divisor 4]
        [--faults flip,drop,dup,truncate,noise,garbage,disconnect]

Starts ``python -m sim.board`` on a free loopback port. Per round: one faulty case (a RUN
frame of a golden-vector image under one fault of ``sim/faults.py``) on its own connection,
then one intact RUN frame of another image on the next. A host that is not disconnecting
closes its sending side after its bytes and reads until the board closes the connection,
which the server does once the board is quiet; so a connection's replies are exactly the
answers to its bytes. Checked (docs/virtual-board.md, "Fault injection"):

- the board's output always parses as frames;
- a faulty case is answered only by ERROR replies or by the golden RESULT (the latter only
  when its frame arrived intact, i.e. after noise); a ``noise`` case by exactly that RESULT;
  a case with no byte after its first complete frame by exactly the replies that
  ``faults.receiver_view`` predicts (error codes included, or nothing when it is cut short);
- every intact frame by exactly its golden RESULT (no valid frame is lost);
- the board is quiet within the bound B (cycles after the connection's last byte is in)::

      B = timeout + 16 + 10 * divisor * (reply bytes) + sum over RESULTs (cycles + events + 64)

- no connection takes longer than ``--case-seconds`` of wall time (no hang).
"""
from __future__ import annotations

import socket
import struct
import sys
import time
from collections import Counter

import numpy as np

from contract.artifacts import load_artifacts
from contract.cli import Parser, command
from contract.errors import UsageError
from hdl import protocol as P
from hdl.host import check_result, golden_results

from . import faults as F
from .board_launch import ServerProcess

MAX_RESAMPLE = 100


class Link:
    """One connection per case to the server at ``port``."""

    def __init__(self, server: ServerProcess, case_seconds: float):
        self.server, self.case_seconds = server, case_seconds

    def exchange(self, data: bytes, disconnect: bool = False, reset: bool = False):
        """Send ``data``; returns (reply bytes, the server's status dict, wall seconds)."""
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=self.case_seconds) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(data)
            out = bytearray()
            if disconnect:
                if reset:    # an abortive close: RST instead of FIN
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                s.shutdown(socket.SHUT_WR)
                while chunk := s.recv(1 << 16):
                    out += chunk
        status = self.server.status(self.case_seconds)
        return bytes(out), status, time.monotonic() - t0


class Torture:
    """The rounds and their checks; ``failures`` collects readable lines."""

    def __init__(self, art, link: Link, *, divisor: int, timeout: int, capacities: dict):
        self.art, self.link, self.divisor, self.timeout = art, link, divisor, timeout
        self.capacities = capacities
        self.gold = golden_results(art.vectors, art.n_layers)
        self.failures: list[str] = []
        self.stats: Counter = Counter()
        self.worst = 0.0                     # largest (quiet - last_rx) / B with replies

    def fail(self, what: str):
        self.failures.append(what)

    def _replies(self, where, data):
        try:
            return [P.decode_reply(c, p) for c, p in P.FrameDecoder().feed(data)]
        except P.ProtocolError as exc:
            self.fail(f"{where}: the board's output does not parse: {exc}")
            return None

    def _check_bound(self, where, status, replies, n_events):
        if status["last_rx"] is None or status["quiet"] is None:
            return
        results = [r for r in replies if isinstance(r, P.Result)]
        reply_bytes = sum(5 + (P.result_payload_bytes(len(r.times)) if isinstance(r, P.Result)
                               else 2) for r in replies)
        bound = (self.timeout + 16 + 10 * self.divisor * reply_bytes
                 + sum(r.cycles + n_events + 64 for r in results))
        took = status["quiet"] - status["last_rx"]
        if replies:     # with none, quiet is the harness's own timeout + 16 (B exactly)
            self.worst = max(self.worst, took / bound)
        if took > bound:
            self.fail(f"{where}: quiet {took} cycles after its last byte, bound {bound}")

    def _check_result(self, where, n, r):
        for d in check_result(self.gold, n, r):
            self.fail(f"{where}: {d}")

    def valid(self, k, n):
        """An intact RUN of image ``n``: exactly its golden RESULT."""
        times, addrs = self.art.events("vectors", n)
        out, status, _ = self.link.exchange(P.encode_run(times, addrs))
        where = f"round {k} intact frame (image {n})"
        replies = self._replies(where, out)
        if replies is None:
            return
        if len(replies) != 1 or not isinstance(replies[0], P.Result):
            self.fail(f"{where}: expected one RESULT, got {replies}")
            return
        self._check_result(where, n, replies[0])
        self._check_bound(where, status, replies, len(times))
        self.stats["intact answered"] += 1

    def faulty(self, k, n, case: F.Case, frame: bytes, reset: bool):
        """A faulty case; see the module docstring for what is checked."""
        where = f"round {k} {case.kind} (image {n}, {len(case.data)} bytes)"
        out, status, _ = self.link.exchange(case.data, case.disconnect, reset)
        self.stats[case.kind] += 1
        if case.disconnect:
            self.stats[f"disconnect {'reset' if reset else 'close'}"] += 1
            return
        replies = self._replies(where, out)
        if replies is None:
            return
        frames, partial = F.receiver_view(case.data, **self.capacities)
        intact = any(case.data[f.start:f.end] == frame for f in frames)
        for r in replies:
            if isinstance(r, P.Result) and intact:
                self._check_result(where, n, r)
            elif not isinstance(r, P.Error):
                self.fail(f"{where}: answered {r}, expected ERROR replies only")
        if case.kind == "noise" and not (len(replies) == 1 and isinstance(replies[0], P.Result)):
            self.fail(f"{where}: expected the golden RESULT after noise, got {replies}")
        if not frames or frames[0].end == len(case.data):
            want = [P.Error(f.error, f.cmd) if f.error else "RESULT" for f in frames]
            got = ["RESULT" if isinstance(r, P.Result) else r for r in replies]
            if got != want:
                self.fail(f"{where}: replies {got}, the receiver's rules predict {want}")
            self.stats["exactly predicted"] += 1
        self.stats[f"{case.kind}: " + ("no reply (dropped)" if not replies else
                                       "RESULT" if any(isinstance(r, P.Result) for r in replies)
                                       else "ERROR")] += 1
        n_events = len(self.art.events("vectors", n)[0])
        self._check_bound(where, status, replies, n_events)


def draw_case(rng, kinds, frame, capacities):
    """A case of a random kind that the checksum sees (resampled otherwise); (case, resamples)."""
    for tries in range(MAX_RESAMPLE):
        case = F.make_case(str(rng.choice(kinds)), frame, rng)
        if not F.acted_on(case, frame, **capacities):
            return case, tries
    raise RuntimeError(f"no detectable fault in {MAX_RESAMPLE} draws")


@command
def main(argv=None) -> int:
    ap = Parser(prog="python -m sim.link_torture", description=__doc__.split("\n\n")[0])
    ap.add_argument("artifacts", help="artifact directory (the network and golden vectors)")
    ap.add_argument("--frames", type=int, default=1000, help="faulty frames (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--divisor", type=int, default=4, help="UART cycles per bit (default 4)")
    ap.add_argument("--faults", default=",".join(F.KINDS),
                    help=f"comma-separated fault kinds (default: all of {','.join(F.KINDS)})")
    ap.add_argument("--case-seconds", type=float, default=120.0,
                    help="wall-time limit of one connection (a hang fails the run)")
    ap.add_argument("--max-events", type=int, default=None,
                    help="use only images with at most this many events (shorter frames)")
    args = ap.parse_args(argv)

    kinds = args.faults.split(",")
    bad = sorted(set(kinds) - set(F.KINDS))
    if bad:
        raise UsageError(f"--faults: unknown kind {bad[0]!r}; expected some of {','.join(F.KINDS)}")
    if args.frames < 1:
        raise UsageError(f"--frames {args.frames}: must be at least 1")
    art = load_artifacts(args.artifacts)
    images = [n for n in range(len(art.vectors["label"]))
              if args.max_events is None or len(art.events("vectors", n)[0]) <= args.max_events]
    if not images:
        raise UsageError(f"--max-events {args.max_events}: no image has that few events")
    rng = np.random.default_rng(args.seed)
    t0 = time.monotonic()
    with ServerProcess(args.artifacts, "--divisor", args.divisor) as server:
        link = Link(server, args.case_seconds)
        link.exchange(P.encode_clear())            # an empty batch: known capacities
        info_out, _, _ = link.exchange(P.encode_info())
        info = P.decode_frames(info_out)[0]
        capacities = {"event_capacity": info.event_capacity, "image_capacity": info.image_capacity}
        timeout = 64 * 10 * args.divisor
        torture = Torture(art, link, divisor=args.divisor, timeout=timeout, capacities=capacities)
        resampled = 0
        for k in range(args.frames):
            n, m = (int(x) for x in rng.choice(images, size=2))
            frame = P.encode_run(*art.events("vectors", n))
            case, tries = draw_case(rng, kinds, frame, capacities)
            resampled += tries
            torture.faulty(k, n, case, frame, reset=bool(rng.integers(2)))
            torture.valid(k, m)
            if (k + 1) % 500 == 0:
                print(f"{k + 1} rounds, {len(torture.failures)} failures, "
                      f"{time.monotonic() - t0:.0f} s", flush=True)
        status = server.stop()
    for f in torture.failures[:20]:
        print(f)
    print(f"server: exit status {status}; {server.log[-1] if server.log else ''}")
    for key in sorted(torture.stats):
        print(f"  {key}: {torture.stats[key]}")
    print(f"{args.frames} faulty frames + {args.frames} intact frames in "
          f"{time.monotonic() - t0:.0f} s: {len(torture.failures)} failures; "
          f"{resampled} draws resampled (corruption the checksum cannot see); "
          f"answered cases quiet within {torture.worst:.1%} of the bound at worst")
    return 1 if torture.failures or status != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
