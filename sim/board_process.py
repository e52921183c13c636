"""The Verilated board as a child process: bytes in, bytes out, with simulation cycles.

The record formats are ``sim/board_harness.cpp``'s. ``BoardProcess.records()`` returns what
the board has said since the last call: ``("T", cycle, bytes)`` (tx bytes), ``("R", cycle,
b"")`` (every byte sent is in), ``("Q", cycle, b"")`` (quiet, after a ``drain()``) and
``("F", cycle, b"")`` (a tx framing error).
"""
from __future__ import annotations

import os
import struct
import subprocess

HEADER = struct.Struct("<cIQ")


class BoardProcess:
    """One running virtual board (``sim_build/vboard-*/vboard DIVISOR TIMEOUT``)."""

    def __init__(self, exe, *, divisor: int, timeout: int):
        self.proc = subprocess.Popen([str(exe), str(divisor), str(timeout)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self._buf = bytearray()

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def _put(self, op: bytes, data: bytes = b"") -> None:
        self.proc.stdin.write(op + struct.pack("<I", len(data)) + data)

    def send(self, data: bytes) -> None:
        """Bytes for the board's rx pin."""
        if data:
            self._put(b"B", bytes(data))

    def drain(self) -> None:
        """Ask for a ``Q`` record once the board is quiet."""
        self._put(b"D")

    def records(self) -> list[tuple[str, int, bytes]]:
        """Read what is available (call when ``fileno()`` is readable); EOFError if it exited."""
        chunk = os.read(self.fileno(), 1 << 16)
        if not chunk:
            raise EOFError(f"the virtual board exited (status {self.proc.poll()})")
        self._buf += chunk
        out = []
        while len(self._buf) >= HEADER.size:
            op, n, cycle = HEADER.unpack_from(self._buf)
            if len(self._buf) < HEADER.size + n:
                break
            out.append((op.decode(), cycle, bytes(self._buf[HEADER.size:HEADER.size + n])))
            del self._buf[:HEADER.size + n]
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._put(b"X")
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
