"""One error policy for every command (``python -m ...``).

A bad file or option prints one line, ``error: <file or option>: <what is wrong>``, to
stderr and exits 2; with ``--debug`` the traceback is shown instead. Usage::

    @command
    def main(argv=None) -> int: ...

Caught: the project's InputError family (ArtifactError, CheckpointError, DataError,
UsageError, NetworkError), ValueError from validation and OSError of reading inputs and
writing outputs. ``Parser`` is an ArgumentParser whose errors follow the same one-line form.
"""
from __future__ import annotations

import argparse
import functools
import sys

from .errors import InputError

DEBUG_FLAG = "--debug"
CAUGHT = (InputError, ValueError, OSError)


def describe(exc: BaseException) -> str:
    """The one-line message of an error (an OSError names its file first)."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return " ".join(str(exc).split()) or type(exc).__name__


def command(main):
    """Wrap ``main(argv)``: strip ``--debug``, report the project's errors as one line, exit 2."""
    @functools.wraps(main)
    def wrapped(argv=None):
        args = list(sys.argv[1:] if argv is None else argv)
        debug = DEBUG_FLAG in args
        if debug:
            args = [a for a in args if a != DEBUG_FLAG]
        try:
            return main(args)
        except CAUGHT as exc:
            if debug:
                raise
            print(f"error: {describe(exc)}", file=sys.stderr)
            return 2
    return wrapped


class Parser(argparse.ArgumentParser):
    """ArgumentParser with ``--debug`` in its help and one-line errors (exit 2)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_argument(DEBUG_FLAG, action="store_true",
                          help="show a traceback instead of the one-line error")

    def error(self, message: str):
        print(f"error: {' '.join(message.split())} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)
