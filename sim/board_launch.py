"""Start ``python -m sim.board`` as a subprocess and read its lines (tests, benchmarks, the
link torture driver)."""
from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"^listening on ([\d.]+):(\d+)")
STATUS = re.compile(r"^connection (\d+) from \S+: (.*)$")


def parse_status(line: str) -> dict | None:
    """A ``connection N ...`` line as a dict (numbers as int, '-' as None), else None."""
    m = STATUS.match(line)
    if not m:
        return None
    out = {"connection": int(m.group(1))}
    for item in m.group(2).split():
        key, _, value = item.partition("=")
        out[key] = None if value == "-" else int(value) if value.isdigit() else value
    return out


class ServerProcess:
    """A virtual board server on 127.0.0.1 (port 0: the server picks a free one)."""

    def __init__(self, artifacts, *args, build_seconds: float = 1800.0):
        cmd = [sys.executable, "-m", "sim.board", str(artifacts), "--listen", "127.0.0.1:0",
               *map(str, args)]
        self.command = " ".join(["python", *cmd[1:]])
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: queue.Queue = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.port = self._wait_listening(build_seconds)

    def _read(self):
        for line in self.proc.stdout:
            self.log.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _wait_listening(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                break
            m = LISTENING.match(line)
            if m:
                return int(m.group(2))
        self.stop()
        raise RuntimeError("the virtual board did not start listening:\n" + "\n".join(self.log))

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def status(self, seconds: float = 60.0) -> dict:
        """The next connection's status line, parsed (RuntimeError if none comes in time)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise RuntimeError("the virtual board exited:\n" + "\n".join(self.log[-5:]))
            s = parse_status(line)
            if s is not None:
                return s
        raise RuntimeError(f"no connection status line from the virtual board in {seconds} s")

    def stop(self, seconds: float = 30.0) -> int:
        """SIGTERM, then wait (SIGKILL after ``seconds``); the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
