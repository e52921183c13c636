"""Spike raster of one image: the golden model beside the hardware, differences marked."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from contract.files import atomic_path
from contract.numerics import LAST_STEP
from report.figures import raster_figure
from sim.scoreboard import differs


def compared_raster(title: str, model: list[np.ndarray], hw: list[np.ndarray],
                    step: int | None = None, mode: str = "full"):
    """The figure: one row per layer, model left, hardware right (red: differs from model).

    model, hw: per layer (N_l,) spike times, 256 = silent / not reported.
    """
    n = len(model)
    rule = ("full", LAST_STEP) if step is None else (mode, step)
    bad = [differs(np.asarray(model[l]), np.asarray(hw[l]), rule[1], l, n, rule[0])
           for l in range(n)]
    return raster_figure(title, [("model", model, bad), ("hardware", hw, bad)], step)


def save_png(fig, path: Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG (atomically) and close it."""
    import matplotlib.pyplot as plt
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
    return path


def record_raster(r: dict, art, mode: str):
    """The figure of one regression record that kept its hardware spikes (``hw_spikes``)."""
    g = getattr(art, r["set"])
    n = r["index"]
    model = [g[f"spikes_{l}"][n] for l in range(len(art.widths) - 1)]
    step = int(g["step"][n])
    title = (f"{r['set']} #{n}: {mode} mode, label {r.get('label')} (model {int(g['label'][n])}), "
             f"decision step {step}" + ("" if r["ok"] else f", MISMATCH from t={r.get('first_part')}"))
    return compared_raster(title, model, [np.asarray(x) for x in r["hw_spikes"]], step, mode)


def draw_rasters(report: dict, art, mode: str, wanted: set, out: Path, limit: int = 10) -> list[Path]:
    """PNG rasters of every mismatching image (up to ``limit``) and of the ``wanted`` ones."""
    paths, n_bad = [], 0
    for r in report["records"]:
        key = (r["set"], r["index"])
        if "hw_spikes" not in r or (r["ok"] and key not in wanted):
            continue
        if not r["ok"]:
            n_bad += 1
            if n_bad > limit and key not in wanted:
                continue
        name = f"raster_{r['set']}_{r['index']}{'' if r['ok'] else '_mismatch'}.png"
        paths.append(save_png(record_raster(r, art, mode), out / name))
    return paths
