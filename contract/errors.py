"""The contract's error type."""
from __future__ import annotations


class ArtifactError(RuntimeError):
    """An artifact directory is missing a file, or a file disagrees with the manifest."""
