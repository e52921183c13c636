"""Intensity-to-latency encoding (SPEC section 2): pixel p in 0..255 spikes once, at 255 - p."""
from __future__ import annotations

import numpy as np

T = 256          # time steps 0..255
SILENT = T       # spike time of a neuron that never fires


def encode_latency(images: np.ndarray) -> np.ndarray:
    """(B, N) uint8 intensities -> (B, N) int16 spike times in 0..255 (brighter is earlier)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 intensities, got dtype {images.dtype}")
    return (255 - images.astype(np.int16)).astype(np.int16)
