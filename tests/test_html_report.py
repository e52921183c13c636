"""The HTML reports (report/, model/html_report.py, sim/html_report.py): one self-contained
file (nothing fetched: no http(s) src or href, no script, images as data: URIs) with the
expected sections, from ``model.train --html`` and ``sim.regress --html``; the slow test
opens them in a headless browser (``bash scripts/browser.sh`` installs one)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from model.checkpoint import Checkpoint, load_checkpoint

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
TRAINING_SECTIONS = ("summary", "curves", "steps", "rasters")
REGRESS_SECTIONS = ("summary", "cycles", "mismatches", "rasters")


def check_self_contained(path: Path, sections) -> str:
    """The page's text, after checking that it needs nothing outside the file."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", text, re.I)
    assert refs and all(r.startswith("data:image/png;base64,") for r in refs), \
        [r[:40] for r in refs if not r.startswith("data:")]
    for needle in ("http://", "https://", "<script", "<link", "@import", "url("):
        assert needle not in text.lower(), needle
    for ident in sections:
        assert f'<h2 id="{ident}">' in text, ident
    return text


def small_checkpoint(path: Path) -> Path:
    """784-16-10, random signs (seed 2), with a three-epoch history."""
    rng = np.random.default_rng(2)
    lat = [rng.standard_normal((16, 784)).astype(np.float32),
           rng.standard_normal((10, 16)).astype(np.float32)]
    hist = [{"epoch": e, "loss": 1.0 / e, "train_acc": 0.5 + e / 10, "val_strict": 0.4 + e / 10,
             "val_paper": 0.41 + e / 10} for e in (1, 2, 3)]
    part = {"strict": 0.7, "paper": 0.71, "ties": 3, "no_spike": 9, "n": 100}
    Checkpoint(lat, np.ones(2), {"mode": "binary", "thr": [100.0] * 2, "theta": [4, 2],
                                 "dataset": "mnist", "config": {"rule": "decision"},
                                 "history": hist, "selected_epoch": 3, "val": part,
                                 "test": part}).save(path)
    return path


def test_training_report_from_a_checkpoint(tmp_path, mnist):
    from model.html_report import write_training_html
    ck = load_checkpoint(small_checkpoint(tmp_path / "ck.npz"))
    test = mnist.test
    out = write_training_html(tmp_path / "r.html", ck, test.images[:300], test.labels[:300],
                              "python -m model.train --hidden 16")
    text = check_self_contained(out, TRAINING_SECTIONS)
    # curves, decision steps, 3 first images + up to 2 misclassified ones
    assert text.count("data:image/png;base64,") == 2 + 3 + 2
    assert "python -m model.train --hidden 16" in text and "MISCLASSIFIED" in text


def test_train_html_option(tmp_path, data_dir):
    """``model.train --html``: the report of the run beside its checkpoint."""
    from model.train import main
    out, html = tmp_path / "ck.npz", tmp_path / "run.html"
    assert main(["--hidden", "16", "--theta", "4", "2", "--epochs", "1", "--train-subset",
                 "300", "--val-size", "100", "--data-dir", str(data_dir), "--out", str(out),
                 "--html", str(html), "--no-progress"]) == 0
    text = check_self_contained(html, TRAINING_SECTIONS)
    assert "--html" in text and "1 run, epoch 1 kept" in text


def test_train_html_refuses_the_checkpoint_path(tmp_path, capsys):
    from model.train import main
    assert main(["--out", str(tmp_path / "ck.npz"), "--html", str(tmp_path / "ck.npz")]) == 2
    assert "--html" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def small_art(tmp_path_factory, data_dir) -> Path:
    from export import weights as exporter
    tmp = tmp_path_factory.mktemp("html")
    ck = small_checkpoint(tmp / "ck.npz")
    assert exporter.main([str(ck), "--out", str(tmp / "art"), "--vectors", "6",
                          "--data-dir", str(data_dir), "--quiet"]) == 0
    return tmp / "art"


def fake_run(art) -> tuple[dict, list[dict]]:
    """A regression's summary and records as sim.regress makes them: the hardware equals the
    model on images 0..4, and image 5 has one hidden spike late (a mismatch)."""
    from sim.regress import summarise
    g = art.vectors
    records = []
    for n in range(6):
        hw = [np.array(g[f"spikes_{l}"][n]) for l in range(2)]
        rec = {"set": "vectors", "index": n, "label": int(g["label"][n]), "ok": n != 5,
               "cycles_fast": 100 + 7 * n, "cycles_predicted": 100 + 7 * n, "n_spikes": 5,
               "randomised": False}
        if n == 5:
            hw[0][0] = 3 if hw[0][0] != 3 else 4
            rec.update(messages=["vectors#5: layer 0 neuron 0 spiked at 3, model says 256"],
                       first_part=3)
        rec["hw_spikes"] = [x.tolist() for x in hw]
        records.append(rec)
    s = summarise({"records": records, "wall_s": 2.0, "sim_cycles": 1000}, art, "early")
    s.update(simulator="icarus", jobs=1, passes=["fast", "debug"], artifacts=str(art),
             total_wall_s=3.0, build_s=1.0, core_sources="git abc", core_params={},
             stopped=None)
    return s, records


def test_regress_report_shows_the_mismatch(tmp_path, small_art):
    from contract.artifacts import load_artifacts
    from sim.html_report import write_regress_html
    art = load_artifacts(small_art)
    s, records = fake_run(art)
    out = write_regress_html(tmp_path / "r.html", s, records, art, "python -m sim.regress x",
                             [("vectors", 0), ("vectors", 1)])
    text = check_self_contained(out, REGRESS_SECTIONS)
    assert "FAIL: 1 mismatching images" in text and "layer 0 neuron 0 spiked at 3" in text
    assert text.count("data:image/png;base64,") == 1 + 1 + 2     # histogram, mismatch, examples


@pytest.mark.icarus
def test_regress_html_option(tmp_path, small_art):
    """``sim.regress --html`` on a real (Icarus) run of 3 images: passes, with rasters."""
    if not shutil.which("iverilog"):
        pytest.skip("iverilog not installed")
    from sim.regress import main
    html = tmp_path / "regress.html"
    assert main([str(small_art), "--simulator", "icarus", "--images", "3", "--no-stress",
                 "--quiet", "--plots", str(tmp_path / "plots"), "--html", str(html)]) == 0
    text = check_self_contained(html, REGRESS_SECTIONS)
    assert "PASS: every image matched" in text
    assert text.count("data:image/png;base64,") == 1 + 3        # histogram, 3 examples


def test_regress_html_is_refused_before_the_build(tmp_path, small_art, capsys):
    from sim.regress import main
    assert main([str(small_art), "--json", str(tmp_path / "r"), "--html",
                 str(tmp_path / "r")]) == 2
    assert "--html" in capsys.readouterr().err and not list(tmp_path.iterdir())


def headless_browser() -> str:
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("no headless browser on PATH (tried " + ", ".join(BROWSERS) + "): run "
                "`bash scripts/browser.sh` (apt-get install chromium-headless-shell)",
                pytrace=False)


PROBE = ("<script>window.addEventListener('load', () => {const i = [...document.images]; "
         "document.body.setAttribute('data-images', i.length + ' ' + i.filter("
         "x => x.complete && x.naturalWidth > 0).length);});</script>")


def open_in_browser(browser: str, page: Path, tmp: Path) -> tuple[str, list[int]]:
    """The DOM of ``page`` loaded offline, and [images, images decoded] as counted by a
    script added to a copy of it (the report itself has none)."""
    probe = tmp / f"probe-{page.name}"
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND",
                          f"--user-data-dir={tmp / 'profile'}", "--dump-dom",
                          probe.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    counts = re.search(r'data-images="(\d+) (\d+)"', dom)
    assert counts, dom[:300]
    return dom, [int(x) for x in counts.groups()]


@pytest.mark.slow
def test_reports_open_in_a_headless_browser(tmp_path, small_art, mnist):
    """Both reports load offline in Chromium: every section in the DOM and every image
    decoded (a broken data: URI leaves naturalWidth 0)."""
    from contract.artifacts import load_artifacts
    from model.html_report import write_training_html
    from sim.html_report import write_regress_html
    browser = headless_browser()
    art = load_artifacts(small_art)
    s, records = fake_run(art)
    pages = {
        write_regress_html(tmp_path / "regress.html", s, records, art, "x",
                           [("vectors", 0)]): REGRESS_SECTIONS,
        write_training_html(tmp_path / "train.html", load_checkpoint(small_checkpoint(
            tmp_path / "ck.npz")), mnist.test.images[:100], mnist.test.labels[:100],
            "y"): TRAINING_SECTIONS}
    for page, sections in pages.items():
        dom, (images, decoded) = open_in_browser(browser, page, tmp_path)
        for ident in sections:
            assert f'id="{ident}"' in dom, (page.name, ident)
        assert images == page.read_text().count("<img") > 0
        assert decoded == images, page.name
