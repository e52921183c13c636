"""The HTML report of a regression (``python -m sim.regress --html PATH``): one self-contained
file (report/html.py) with the summary table, the histogram of cycles per image, the
mismatches (their messages and spike rasters) and the rasters of a few matching images."""
from __future__ import annotations

from pathlib import Path

from report.figures import histogram_figure
from report.html import Page
from sim.raster import record_raster

MAX_RASTERS = 10


def summary_rows(s: dict, command: str) -> list[tuple[str, str]]:
    c = s.get(f"{s['cycle_key']}_per_image") or {}

    def fmt(x, spec=".4f"):
        return "n/a" if x is None else format(x, spec)
    return [
        ("command", command), ("artifacts", s["artifacts"]),
        ("simulator", f"{s['simulator']} ({s['jobs']} process(es)), {s['mode']} mode, passes "
                      f"{', '.join(s['passes'])}"),
        ("images", f"{s['images']} ({s['vector_images']} test vectors + {s['stress_images']} "
                   f"stress); every spike checked on {s['debug_pass_images']}, "
                   f"{s['randomised_images']} with random idle / back-pressure"),
        ("mismatches", s["mismatches"]),
        ("cycle-count differences", f"{s['cycle_differences']} (cycle model agrees on "
                                    f"{s['cycle_model_agrees']})"),
        ("hardware strict accuracy", f"{fmt(s['hw_strict_accuracy'])} (model "
                                     f"{fmt(s['model_strict_accuracy'])}, "
                                     f"{s['hw_label_differs_from_model']} labels differ)"),
        ("cycles per image", ", ".join(f"{k} {v:.1f}" for k, v in c.items()) or "n/a"),
        ("wall", f"{s['total_wall_s']:.1f} s (build {s['build_s']:.1f} s), "
                 f"{fmt(s['images_per_s'], '.1f')} images/s"),
        ("core", f"{s['core_sources']}; parameters {s['core_params'] or 'default'}"),
        ("stopped early", s.get("stopped") or "no"),
    ]


def regress_page(s: dict, records: list[dict], art, command: str,
                 examples: list[tuple[str, int]]) -> Page:
    """The page of one regression: summary ``s`` (sim.regress.summarise plus the run's
    fields), its per-image ``records`` and the ``examples`` to draw."""
    bad = [r for r in records if not r["ok"]]
    page = Page(f"BS4NN regression: {s['artifacts']} ({s['simulator']}, {s['mode']} mode)")
    page.section("summary", "Summary")
    page.paragraph("PASS: every image matched the golden model" if not bad and not s.get("stopped")
                   else f"FAIL: {len(bad)} mismatching images", "bad" if bad else "good")
    page.table(summary_rows(s, command))
    page.section("cycles", "Cycles per image")
    key = s["cycle_key"]
    cycles = [r[key] for r in records if r["set"] == "vectors" and key in r]
    page.figure(histogram_figure(cycles, f"core cycles per image ({key.split('_')[1]} pass)",
                                 f"{len(cycles)} test images"), "cycles per image")
    page.section("mismatches", "Mismatches")
    if not bad:
        page.paragraph("none")
    for r in bad[:MAX_RASTERS]:
        page.preformatted(r.get("messages", [])[:8])
        if "hw_spikes" in r:
            page.figure(record_raster(r, art, s["mode"]), f"{r['set']} #{r['index']}: mismatch")
    if len(bad) > MAX_RASTERS:
        page.paragraph(f"... and {len(bad) - MAX_RASTERS} more (see the --json report)")
    page.section("rasters", "Spike rasters of a few images")
    by_key = {(r["set"], r["index"]): r for r in records}
    shown = [by_key[k] for k in examples if k in by_key and "hw_spikes" in by_key[k]]
    if not shown:
        page.paragraph("none: the hardware's spikes come from the debug pass, which did not "
                       "run on these images")
    for r in shown:
        page.figure(record_raster(r, art, s["mode"]), f"{r['set']} #{r['index']}: hardware "
                    f"label {r.get('label')}, " + ("matches the model" if r["ok"] else "MISMATCH"))
    return page


def write_regress_html(path: str | Path, s: dict, records: list[dict], art, command: str,
                       examples: list[tuple[str, int]]) -> Path:
    return regress_page(s, records, art, command, examples).write(path)
