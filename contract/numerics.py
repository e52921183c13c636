"""The numbers both sides agree on (docs/numerics.md): time, encoding, the early-mode rule.

Steps run 0..T-1; a spike time is an integer in 0..T, T meaning "never fired" (SILENT).
"""
from __future__ import annotations

import numpy as np

__all__ = ["T", "SILENT", "LAST_STEP", "encode_latency", "early_limit", "expected_times",
           "majority_vote"]

T = 256                  # time steps 0..255
SILENT = T               # spike time of a neuron that never fires
LAST_STEP = T - 1        # a crossing here gives time 256 = SILENT; zero pixels spike here


def encode_latency(images: np.ndarray) -> np.ndarray:
    """(B, N) uint8 intensities -> (B, N) int16 spike times in 0..255 (brighter is earlier)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 intensities, got dtype {images.dtype}")
    return (LAST_STEP - images.astype(np.int16)).astype(np.int16)


def early_limit(step: int, layer: int, n_layers: int) -> int:
    """Latest spike time of weight layer ``layer`` that can influence a decision at ``step``.

    Each layer adds one step of delay, so layer l's spikes after ``step + 1 - (L - 1 - l)``
    cannot reach the output before the decision (docs/numerics.md, "Early decisions").
    """
    return step + 1 - (n_layers - 1 - layer)


def expected_times(spikes: np.ndarray, step: int, layer: int, n_layers: int,
                   mode: str) -> np.ndarray:
    """Spike times of weight layer ``layer`` that a run in ``mode`` reports for one image.

    Full mode: all of them. Early mode: those up to ``early_limit``; later ones are SILENT.
    """
    s = np.asarray(spikes, dtype=np.int64)
    if mode == "full":
        return s.copy()
    return np.where(s <= early_limit(step, layer, n_layers), s, SILENT)


def majority_vote(labels: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(class, votes) from members' decisions ``labels`` (M, B): the class with the most
    votes, the lowest index on a tied vote; votes (B, classes)."""
    labels = np.asarray(labels)
    votes = np.zeros((labels.shape[1], classes), np.int64)
    for row in labels:
        votes[np.arange(len(row)), row] += 1
    return votes.argmax(axis=1), votes
