"""Spike raster of one image: the golden model beside the hardware, differences marked."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from contract.files import atomic_path
from contract.numerics import LAST_STEP, SILENT
from sim.scoreboard import differs


def plot_raster(path: str | Path, title: str, model: list[np.ndarray], hw: list[np.ndarray],
                step: int | None = None, mode: str = "full") -> Path:
    """Write a PNG: one row per layer, model left, hardware right (red: differs from model).

    model, hw: per layer (N_l,) spike times, 256 = silent / not reported.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(model)
    rule = ("full", LAST_STEP) if step is None else (mode, step)
    fig, axes = plt.subplots(n, 2, figsize=(11, 2.2 + 2.4 * n), squeeze=False, sharex=True)
    for l in range(n):
        m, h = np.asarray(model[l]), np.asarray(hw[l])
        bad = differs(m, h, rule[1], l, n, rule[0])
        for col, (times, who) in enumerate(((m, "model"), (h, "hardware"))):
            ax = axes[l][col]
            fired = times < SILENT
            idx = np.flatnonzero(fired & ~bad)
            ax.scatter(times[idx], idx, s=3, c="k", label="agree")
            idx = np.flatnonzero(fired & bad)
            if len(idx):
                ax.scatter(times[idx], idx, s=12, c="r", marker="x", label="differs")
            if step is not None:
                ax.axvline(step + 1, color="tab:blue", lw=0.8, ls="--", label="decision + 1")
            ax.set_xlim(0, SILENT)
            ax.set_ylim(-1, len(times))
            ax.set_ylabel(f"layer {l} neuron")
            ax.set_title(f"{who}: layer {l}, {int(fired.sum())} spikes"
                         + (f", {int(bad.sum())} differ" if bad.any() else ""), fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("spike time (step)")
    axes[0][1].legend(loc="upper right", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
