"""The HTML report of a training run (``python -m model.train --html PATH``): one
self-contained file (report/html.py) with the summary table, the training curves, the
histogram of decision steps on the test set and the spike rasters of a few test images
(the first ones and the first misclassified ones). Everything comes from the checkpoint
(its metadata holds the history and the figures), so any checkpoint, packed ones too, can
be reported."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from report.figures import histogram_figure, raster_figure
from report.html import Page

from .arch import spec_of
from .curves import history_figure
from .evaluate import checkpoint_forward

CONFIG_KEYS = ("rule", "optimizer", "lr", "batch_size", "shift", "seed", "max_minutes",
               "epochs", "threads")


def figures(part: dict | None) -> str:
    if not part:
        return "n/a"
    return (f"strict {part['strict']:.4f}, paper {part['paper']:.4f}, ties {part['ties']}, "
            f"no output spike {part['no_spike']} of {part['n']}")


def summary_rows(ck, command: str) -> list[tuple[str, str]]:
    m, cfg = ck.meta, ck.meta.get("config", {})
    history = m.get("history", [])
    return [
        ("command", command), ("dataset", m.get("dataset", "?")),
        ("architecture", f"{spec_of(ck.arch)} (widths {ck.widths}), {m.get('mode', 'binary')}"),
        ("thresholds (theta)", ck.thetas),
        ("epochs", f"{len(history)} run, epoch {m.get('selected_epoch', '?')} kept (best "
                   "validation strict accuracy)"),
        ("validation", figures(m.get("val"))), ("test", figures(m.get("test"))),
        ("training time", f"{m.get('train_seconds', '?')} s, "
                          f"{m.get('samples_per_second', '?')} samples/s"),
        ("config", ", ".join(f"{k} {cfg[k]}" for k in CONFIG_KEYS if k in cfg)),
        ("checkpoint", f"{m.get('format')}" + (" (packed: inference and export only)"
                                               if ck.packed else "")),
    ]


def shown_images(labels, decided, n_first: int, n_wrong: int) -> list[int]:
    """The first ``n_first`` test images and the first ``n_wrong`` misclassified ones."""
    wrong = [int(i) for i in np.flatnonzero(decided != labels) if i >= n_first][:n_wrong]
    return list(range(min(n_first, len(labels)))) + wrong


def training_page(ck, images: np.ndarray, labels: np.ndarray, command: str,
                  n_first: int = 3, n_wrong: int = 2) -> Page:
    """The page of checkpoint ``ck``, with its forward pass on the test ``images``."""
    m = ck.meta
    page = Page(f"BS4NN training: {m.get('dataset', '?')} {spec_of(ck.arch)} "
                f"({m.get('config', {}).get('rule', '?')} rule)")
    page.section("summary", "Summary")
    page.table(summary_rows(ck, command))
    page.section("curves", "Training curves")
    if m.get("history"):
        page.figure(history_figure(m["history"]), "loss and accuracy per epoch", dpi=90)
    else:
        page.paragraph("no history recorded in the checkpoint")
    f = checkpoint_forward(ck, images)
    d = f.decision
    page.section("steps", "Decision steps on the test set")
    page.paragraph("The step of each test image's decision (its first output crossing; 255 "
                   "when no output neuron fires). The core's cycles per image also depend on "
                   "its configuration: python -m hdl.cycles ARTIFACTS, or sim.regress --html.")
    page.figure(histogram_figure(d.step, "decision step", f"{len(labels)} test images, "
                                 f"{int(d.no_spike.sum())} without output spike"),
                "decision steps")
    page.section("rasters", "Spike rasters of a few test images")
    for i in shown_images(np.asarray(labels), d.label, n_first, n_wrong):
        ok = "correct" if d.label[i] == labels[i] else "MISCLASSIFIED"
        title = (f"test #{i}: label {int(labels[i])}, decided {int(d.label[i])} ({ok}), "
                 f"decision step {int(d.step[i])}" + (", tie" if d.tie[i] else ""))
        page.figure(raster_figure(title, [("model", [s[i] for s in f.spikes], None)],
                                  int(d.step[i])), title)
    return page


def write_training_html(path: str | Path, ck, images, labels, command: str) -> Path:
    return training_page(ck, images, labels, command).write(path)
