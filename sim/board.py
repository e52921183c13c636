"""A virtual board: the board top (UART included) in Verilator behind a TCP socket on loopback.

    python -m sim.board ARTIFACTS --listen 127.0.0.1:PORT [--divisor N] [--max-seconds S]
    python -m hdl.host --port socket://127.0.0.1:PORT ARTIFACTS      # in another shell

Bytes from the socket go into the board's UART rx pin, bytes off its tx pin come back (one
host at a time; the next waits in the listen queue). A host that closes its sending side
still gets every answer the board gives to what it sent, then the connection closes; a host
that goes away entirely has the board's remaining output discarded. Either way the server
waits until the board is quiet (no frame being answered, the line silent for longer than the
receive timeout, so a half-received frame is dropped) before it takes the next connection.
One line per connection: ``connection N from ADDR: in=.. out=.. discarded=.. last_rx=CYCLE
last_tx=CYCLE quiet=CYCLE end=eof|reset|stopped`` (cycles of the board's clock). Port 0 picks
a free port; the ``listening on HOST:PORT`` line says which. See docs/virtual-board.md.
"""
from __future__ import annotations

import ipaddress
import selectors
import signal
import socket
import sys
import time
from pathlib import Path

from contract.artifacts import load_artifacts
from contract.cli import Parser, command
from contract.errors import UsageError
from hdl.core_options import add_core_arguments, core_kwargs

from .board_process import BoardProcess

DEFAULT_DIVISOR = 8


def loopback_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` of a loopback address (127.0.0.0/8, ::1 or a name resolving only there)."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {text}: expected HOST:PORT, e.g. 127.0.0.1:5555")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"--listen {text}: {exc.strerror}") from None
    addrs = {info[4][0] for info in infos}
    if not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs):
        raise UsageError(f"--listen {text}: not a loopback address; the virtual board listens "
                         "on 127.0.0.1 or ::1 only")
    return sorted(addrs)[0], int(port)


class Connection:
    """One host's connection and what went over it."""

    def __init__(self, number, sock, peer):
        self.number, self.sock, self.peer = number, sock, peer
        self.state = "open"          # open -> draining (host sent EOF) or gone -> closed
        self.end = None
        self.bytes_in = self.bytes_out = self.discarded = 0
        self.last_rx = self.last_tx = self.quiet = None

    def status(self) -> str:
        def c(v):
            return "-" if v is None else str(v)
        host, port = self.peer[:2]
        return (f"connection {self.number} from {host}:{port}: in={self.bytes_in} "
                f"out={self.bytes_out} discarded={self.discarded} last_rx={c(self.last_rx)} "
                f"last_tx={c(self.last_tx)} quiet={c(self.quiet)} end={self.end}")


class Server:
    """The accept/forward loop between a listening socket and a ``BoardProcess``."""

    def __init__(self, board: BoardProcess, listener: socket.socket, log=print):
        self.board, self.listener, self.log = board, listener, log
        self.sel = selectors.DefaultSelector()
        self.sel.register(board.fileno(), selectors.EVENT_READ, "board")
        self.sel.register(listener, selectors.EVENT_READ, "listen")
        self.conn: Connection | None = None
        self.count = 0
        self.stop = False

    def serve(self, max_seconds: float | None) -> str:
        """Run until a signal (``stop``) or ``max_seconds``; returns why it ended."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        while not self.stop:
            if deadline is not None and time.monotonic() >= deadline:
                return "max-seconds"
            for key, _ in self.sel.select(timeout=0.2):
                getattr(self, f"_on_{key.data}")()
        return "signal"

    def _on_listen(self):
        sock, peer = self.listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(10.0)           # a host that stops reading cannot stall the board
        self.count += 1
        self.conn = Connection(self.count, sock, peer)
        self.sel.unregister(self.listener)
        self.sel.register(sock, selectors.EVENT_READ, "host")

    def _on_host(self):
        conn = self.conn
        try:
            data = conn.sock.recv(1 << 16)
        except OSError:
            data, conn.state = None, "gone"
        if data:
            conn.bytes_in += len(data)
            self.board.send(data)
            return
        if data is not None:
            conn.state = "draining"
        conn.end = "eof" if data is not None else "reset"
        self.sel.unregister(conn.sock)
        self.board.drain()

    def _on_board(self):
        for op, cycle, data in self.board.records():
            conn = self.conn
            if op == "F":
                self.log(f"warning: framing error on the board's tx at cycle {cycle}", flush=True)
            if conn is None:
                continue
            if op == "R":
                conn.last_rx = cycle
            elif op == "T":
                conn.bytes_out += len(data)
                conn.last_tx = cycle
                self._forward(conn, data)
            elif op == "Q":
                conn.quiet = cycle
                self._close(conn)

    def _forward(self, conn, data):
        if conn.state == "gone":
            conn.discarded += len(data)
            return
        try:
            conn.sock.sendall(data)
        except OSError:
            conn.discarded += len(data)
            if conn.state == "open":
                conn.end = "reset"
                self.sel.unregister(conn.sock)
                self.board.drain()
            conn.state = "gone"

    def _close(self, conn):
        conn.sock.close()
        self.log(conn.status(), flush=True)
        self.conn = None
        self.sel.register(self.listener, selectors.EVENT_READ, "listen")

    def shutdown(self):
        if self.conn is not None:
            self.conn.end = "stopped"
            self.conn.sock.close()
            self.log(self.conn.status(), flush=True)
            self.conn = None
        self.sel.close()
        self.listener.close()
        self.board.close()


@command
def main(argv=None) -> int:
    ap = Parser(prog="python -m sim.board", description=__doc__.split("\n\n")[0])
    ap.add_argument("artifacts", help="artifact directory (the network)")
    ap.add_argument("--listen", required=True, metavar="HOST:PORT",
                    help="loopback address to listen on (port 0: any free port)")
    ap.add_argument("--divisor", type=int, default=DEFAULT_DIVISOR,
                    help=f"UART clock cycles per bit, 4..65535 (default {DEFAULT_DIVISOR})")
    ap.add_argument("--simulator", choices=("verilator",), default="verilator")
    ap.add_argument("--max-seconds", type=float, default=None,
                    help="stop after this many seconds of serving (default: until a signal)")
    ap.add_argument("--event-capacity", type=int, default=4096)
    ap.add_argument("--image-capacity", type=int, default=256)
    add_core_arguments(ap, debug_port=False)
    args = ap.parse_args(argv)

    host, port = loopback_address(args.listen)
    if not 4 <= args.divisor <= 65535:
        raise UsageError(f"--divisor {args.divisor}: must lie in 4..65535")
    if args.max_seconds is not None and not args.max_seconds > 0:
        raise UsageError(f"--max-seconds {args.max_seconds}: must be positive")
    art = load_artifacts(args.artifacts)
    timeout = 64 * 10 * args.divisor           # SerialLink's default: 64 byte times
    from .board_top import board_binary
    exe = board_binary(art, Path(args.artifacts), divisor=args.divisor, timeout=timeout,
                       event_capacity=args.event_capacity, image_capacity=args.image_capacity,
                       core_params={**core_kwargs(args), "debug_port": False},
                       log=lambda s: print(s, flush=True))
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(8)
    server = Server(BoardProcess(exe, divisor=args.divisor, timeout=timeout), listener)

    def on_signal(signum, frame):
        server.stop = True
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    bound = listener.getsockname()
    print(f"listening on {bound[0]}:{bound[1]}: board {'-'.join(map(str, art.widths))}, "
          f"UART divisor {args.divisor}, receive timeout {timeout} cycles, buffer "
          f"{args.event_capacity} events / {args.image_capacity} images", flush=True)
    try:
        why = server.serve(args.max_seconds)
    except EOFError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        server.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"stopped ({why}) after {server.count} connections", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
