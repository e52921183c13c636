"""What every benchmark script prints and keeps: the command on top, then its lines, saved atomically."""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from contract.files import atomic_path  # noqa: E402


def load_text() -> str:
    """The machine's load average (1, 5, 15 min), for figures measured on a shared machine."""
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


class BenchLog:
    """Print lines as they come and keep them; ``save(out)`` writes them with the command on top."""

    def __init__(self, script: str, argv):
        self.lines: list[str] = []
        self("$ python " + " ".join([os.path.relpath(script)] + list(argv or sys.argv[1:])))

    def __call__(self, s: str = "") -> None:
        print(s, flush=True)
        self.lines.append(s)

    def save(self, out) -> None:
        if out:
            with atomic_path(out) as tmp:
                tmp.write_text("\n".join(self.lines) + "\n")
