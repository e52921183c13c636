"""Images -> input events, as the hardware receives them (docs/artifacts.md, "Events").

A pixel of intensity p spikes at s = 255 - p (docs/numerics.md, "Encoding"). One event per pixel with
s < 255 (p > 0), sorted by (time, input index); pixels at s = 255 are dropped (they can
never cause a spike before 256). An image with no such pixel becomes the single event
(time 255, index 0) so that every image has at least one event (and a `last` flag).

Part of the contract package: numpy only, imported by every stage.
"""
from __future__ import annotations

import numpy as np

from .numerics import T
EMPTY_EVENT = (T - 1, 0)        # (time, addr) sent for an image with no pixel > 0


def _check_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 intensities, got dtype {images.dtype}")
    if images.ndim != 2:
        raise ValueError(f"images must be (N, N0), got shape {images.shape}")
    if images.shape[1] > 1 << 16:
        raise ValueError(f"{images.shape[1]} inputs do not fit a uint16 address")
    return images


def images_to_events(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, N0) uint8 images -> (offsets (N+1,) int64, times (E,) uint8, addrs (E,) uint16).

    Image n's events are ``times[offsets[n]:offsets[n+1]]`` / ``addrs[...]``.
    """
    images = _check_images(images)
    n, n0 = images.shape
    times = (T - 1 - images.astype(np.int16))                     # (N, N0) in 0..255
    # Sort key per image: time * N0 + index (stable, unique); dropped pixels sort last.
    key = times.astype(np.int64) * n0 + np.arange(n0, dtype=np.int64)[None, :]
    keep = images > 0
    counts = keep.sum(axis=1)
    empty = counts == 0
    counts_out = np.where(empty, 1, counts).astype(np.int64)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(counts_out, out=offsets[1:])
    key = np.where(keep, key, np.iinfo(np.int64).max)
    order = np.argsort(key, axis=1, kind="stable")
    sorted_t = np.take_along_axis(times, order, axis=1)
    # Row-major mask of the first counts[n] entries of each sorted row.
    take = np.arange(n0)[None, :] < counts[:, None]
    ev_t = np.empty(int(offsets[-1]), np.uint8)
    ev_a = np.empty(int(offsets[-1]), np.uint16)
    # Positions in the output of the kept (non-empty) images' events.
    pos = np.flatnonzero(np.repeat(~empty, counts_out))
    ev_t[pos] = sorted_t[take]
    ev_a[pos] = order[take]
    e = offsets[:-1][empty]
    ev_t[e], ev_a[e] = EMPTY_EVENT
    return offsets, ev_t, ev_a


def image_to_events(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One (N0,) uint8 image -> (times uint8, addrs uint16), sorted by (time, addr)."""
    image = np.asarray(image)
    if image.ndim != 1:
        raise ValueError(f"image must be 1-D (N0,), got shape {image.shape}")
    _, t, a = images_to_events(image[None, :])
    return t, a


def events_to_times(times: np.ndarray, addrs: np.ndarray, n0: int) -> np.ndarray:
    """Inverse view: input spike times (n0,) int16 (255 for pixels without an event)."""
    s = np.full(n0, T - 1, np.int16)
    s[np.asarray(addrs, np.int64)] = np.asarray(times, np.int16)
    return s
