"""The training curves of a run: loss and accuracies per epoch, as a figure or a PNG."""
from __future__ import annotations

from pathlib import Path

from contract.files import atomic_path
from report.figures import pyplot


def history_figure(history, title: str = ""):
    """Training loss, and train / val accuracy per epoch (a matplotlib figure).

    ``history`` is the list of per-epoch records of ``model.loop.train``.
    """
    plt = pyplot()
    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ep, [h["loss"] for h in history], "o-")
    a.set_xlabel("epoch")
    a.set_ylabel("training loss (per sample)")
    b.plot(ep, [h["train_acc"] for h in history], "o-", label="train (running)")
    b.plot(ep, [h["val_strict"] for h in history], "o-", label="val strict")
    b.plot(ep, [h["val_paper"] for h in history], "o--", label="val paper")
    b.set_xlabel("epoch")
    b.set_ylabel("accuracy")
    b.legend()
    b.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(history, path: str | Path, title: str = "") -> None:
    """Write ``path`` (PNG, atomically): the ``history_figure``."""
    plt = pyplot()
    fig = history_figure(history, title)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
