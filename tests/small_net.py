"""A small random network exported as an artifact directory, for board-level tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from export import weights as exporter
from model.checkpoint import Checkpoint


def export_random_net(d: Path, data_dir, vectors: int, *, widths=(784, 32, 10), thetas=(8, 2),
                      seed: int = 5) -> Path:
    """Export a random +-1 network (fixed seed) with ``vectors`` MNIST golden vectors to d/art."""
    rng = np.random.default_rng(seed)
    latent = [rng.standard_normal((widths[l + 1], widths[l])).astype(np.float32)
              for l in range(len(widths) - 1)]
    Checkpoint(latent, np.ones(len(latent)), {"mode": "binary", "thr": [100.0] * len(latent),
                                              "theta": list(thetas), "dataset": "mnist"}).save(d / "net.npz")
    args = [d / "net.npz", "--out", d / "art", "--vectors", vectors, "--data-dir", data_dir, "--quiet"]
    assert exporter.main([str(a) for a in args]) == 0
    return d / "art"
