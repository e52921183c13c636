"""The contract's error types: what a command reports as one line, ``error: ...``, exit 2.

``InputError`` is the base of every error caused by what the user gave (a file, an option);
contract/cli.py catches it (and ``ValueError``, ``OSError``) in every command. Each stage's
own errors (model.checkpoint.CheckpointError, model.data.DataError) derive from it.
"""
from __future__ import annotations


class InputError(Exception):
    """A file or option the user gave is unusable; the message names it first."""


class ArtifactError(InputError, RuntimeError):
    """An artifact directory is missing a file, or a file disagrees with the manifest."""


class UsageError(InputError, ValueError):
    """An option value or an output path is unusable (checked before any long work)."""
