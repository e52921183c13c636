"""Stress cases of networks with conv and pool layers (docs/artifacts.md, "Stress cases";
docs/numerics.md, "Convolution", "Pooling"): the padded border, a channel whose every
position fires, a pooling window whose earliest inputs tie."""
from __future__ import annotations

import numpy as np

from export.golden import run_golden
from model.arch import Layer
from model.pool import windows


def border_image(layer: Layer) -> np.ndarray:
    """Pixels at 255 in the K - 1 rows and columns along each edge of the first conv
    layer's input (the positions whose windows reach into the padding), 0 elsewhere."""
    c, h, w = layer.in_shape
    k = max(layer.kernel - 1, 1)
    img = np.zeros((c, h, w), np.uint8)
    img[:, :k], img[:, -k:], img[:, :, :k], img[:, :, -k:] = 255, 255, 255, 255
    return img.reshape(-1)


def channel_fires_everywhere(spikes: np.ndarray, layer: Layer) -> np.ndarray:
    """(N,) channel index whose every position fired, -1 where none did."""
    c = layer.out_shape[0]
    full = (spikes.reshape(len(spikes), c, -1) < 256).all(axis=2)
    return np.where(full.any(axis=1), full.argmax(axis=1), -1)


def window_tie(s_in: np.ndarray, layer: Layer) -> np.ndarray:
    """(N,) whether some pooling window has two or more inputs at its earliest spike."""
    g = s_in[:, windows(layer)]                                       # (N, N_out, K*K)
    first = g.min(axis=2, keepdims=True)
    return (((g == first) & (first < 256)).sum(axis=2) > 1).any(axis=1)


def first_case(sources, hits):
    """(golden dict, index, image, description) of the first image for which ``hits(g)`` (N,)
    is true, searching the candidate stress images, then the test images; None if none."""
    for g, images, names in sources:
        hit = np.flatnonzero(hits(g))
        if len(hit):
            i = int(hit[0])
            return g, i, images[i], (names[i] if names is not None else f"test index {i}")
    return None


def conv_cases(weights, thetas, arch: list[Layer], cand_images: np.ndarray, cand_names,
               test_images, g_test: dict):
    """(name, image, label, why) tuples for the conv and pool edge cases. Candidates: the
    stress images built so far (``cand_names``), then the test images (labels known)."""
    out = []
    first_conv = next((l for l, x in enumerate(arch) if x.kind == "conv"), None)
    if first_conv == 0:
        out.append(("padding_edges", border_image(arch[0]), -1,
                    f"only the {arch[0].kernel - 1} border rows and columns lit: windows that "
                    f"reach into the zero padding (P = {arch[0].pad})"))
    g_cand = run_golden(cand_images, weights, thetas, arch=arch)
    sources = ((g_cand, cand_images, cand_names), (g_test, test_images, None))
    if first_conv is not None:
        layer, key = arch[first_conv], f"spikes_{first_conv}"
        found = first_case(sources, lambda g: channel_fires_everywhere(g[key], layer) >= 0)
        if found:
            g, i, img, what = found
            ch = int(channel_fires_everywhere(g[key][i:i + 1], layer)[0])
            out.append(("channel_all_fire", img, -1, f"every position of channel {ch} of "
                        f"layer {first_conv} fires (as {what})"))
    pool = next((l for l, x in enumerate(arch) if x.kind == "pool" and l > 0), None)
    if pool is not None:
        found = first_case(sources, lambda g: window_tie(g[f"spikes_{pool - 1}"], arch[pool]))
        if found:
            out.append(("pool_tie", found[2], -1, f"a window of pooling layer {pool} has two or "
                        f"more inputs at its earliest spike (as {found[3]})"))
    return out
