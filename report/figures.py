"""The figures the reports share: spike rasters and histograms (matplotlib, Agg)."""
from __future__ import annotations

import numpy as np

from contract.numerics import SILENT


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def raster_figure(title: str, columns, step: int | None = None):
    """Spike rasters, one row per layer and one column per source.

    ``columns``: (name, times, bad) per column; times: per layer (N_l,) spike times (256 =
    silent); bad: per layer boolean masks of the neurons to mark (red x), or None.
    ``step``: the decision step, drawn at step + 1.
    """
    plt = pyplot()
    n, k = len(columns[0][1]), len(columns)
    if k == 1:          # one source: the layers side by side
        fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.4), squeeze=False)
        axes = axes.T
    else:               # one row per layer, the sources side by side
        fig, axes = plt.subplots(n, k, figsize=(5.5 * k, 2.2 + 2.4 * n), squeeze=False,
                                 sharex=True)
    for col, (who, layers, bad_layers) in enumerate(columns):
        for l in range(n):
            ax = axes[l][col]
            times = np.asarray(layers[l])
            bad = (np.zeros(times.shape, bool) if bad_layers is None
                   else np.asarray(bad_layers[l], bool))
            fired = times < SILENT
            idx = np.flatnonzero(fired & ~bad)
            ax.scatter(times[idx], idx, s=3, c="k", label="agree" if bad_layers else "spike")
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
    for ax in (axes[:, 0] if k == 1 else axes[-1]):
        ax.set_xlabel("spike time (step)")
    axes[0][-1].legend(loc="upper right", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def histogram_figure(values, xlabel: str, title: str, bins: int = 50):
    """A histogram of ``values`` with its mean and 99th percentile marked."""
    plt = pyplot()
    v = np.asarray(values, np.float64)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    if v.size:
        ax.hist(v, bins=bins, color="tab:gray")
        for x, name, style in ((v.mean(), "mean", "-"), (np.percentile(v, 99), "p99", "--")):
            ax.axvline(x, color="tab:red", ls=style, lw=1, label=f"{name} {x:.1f}")
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("images")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
