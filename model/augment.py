"""Training-time augmentation: random translations of the 28 x 28 images."""
from __future__ import annotations

import numpy as np


def translate(images: np.ndarray, shift: int, rng: np.random.Generator,
              side: int = 28) -> np.ndarray:
    """Each (side*side,) image moved by a random (dx, dy) in [-shift, shift], zero filled.

    With ``shift == 0`` the images are returned as they are and ``rng`` is not drawn from.
    """
    if not shift:
        return images
    B = len(images)
    pad = np.zeros((B, side + 2 * shift, side + 2 * shift), images.dtype)
    pad[:, shift:shift + side, shift:shift + side] = images.reshape(B, side, side)
    dx, dy = rng.integers(0, 2 * shift + 1, (2, B))
    r = np.arange(side)
    rows = (dy[:, None] + r)[:, :, None]
    cols = (dx[:, None] + r)[:, None, :]
    return pad[np.arange(B)[:, None, None], rows, cols].reshape(B, side * side)
