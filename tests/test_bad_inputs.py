"""Bad input to every command: one line ``error: <file or option>: ...``, exit 2, nothing on
disk changed (docs/bad-inputs.md: one table row per case below, same ids).

Each case runs the command's ``main(argv)`` in-process in a fresh folder holding a tiny
784-16-10 checkpoint (``runs/ck.npz``) and its export (``art/``), after the case's setup has
spoiled something; every file under that folder is hashed before and after the run.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from model.checkpoint import Checkpoint

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- inputs

def save_ckpt(path: Path, widths=(784, 16, 10), thetas=(4, 2), **meta) -> Path:
    """A random binary checkpoint (seed 5); ``meta`` overrides its metadata."""
    rng = np.random.default_rng(5)
    lat = [rng.standard_normal((widths[l + 1], widths[l])).astype(np.float32)
           for l in range(len(widths) - 1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    Checkpoint(lat, np.ones(len(lat)), {"mode": "binary", "thr": [100.0] * len(lat),
                                        "theta": list(thetas), "dataset": "mnist",
                                        **meta}).save(path)
    return path


def bad_ckpt(**kw) -> Callable[[Path], None]:
    return lambda tmp: save_ckpt(tmp / "runs/bad.npz", **kw)


def meta_list(tmp: Path) -> None:
    """A checkpoint whose metadata is a JSON list."""
    with np.load(tmp / "runs/ck.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["meta"] = np.frombuffer(b"[1, 2]", np.uint8)
    np.savez(tmp / "runs/bad.npz", **arrays)


def nan_weights(tmp: Path) -> None:
    with np.load(tmp / "runs/ck.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["latent_0"][0, 0] = np.nan
    np.savez(tmp / "runs/bad.npz", **arrays)


def truncated(tmp: Path) -> None:
    (tmp / "runs/bad.npz").write_bytes((tmp / "runs/ck.npz").read_bytes()[:3000])


def text_file(name: str, text: str = "not what you think\n") -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text)
    return make


def bayes_ckpt(tmp: Path) -> None:
    """runs/bad.npz: a checkpoint holding a distribution over binary weights (--rule bayes)."""
    from model.posterior import DISTRIBUTION
    save_ckpt(tmp / "runs/bad.npz", distribution=DISTRIBUTION)


def packed_edit(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    """runs/bad.npz: runs/ck.npz packed (model.pack), then ``edit`` applied to its arrays."""
    def make(tmp: Path) -> None:
        from model.pack import main as pack
        assert pack([str(tmp / "runs/ck.npz"), "--out", str(tmp / "runs/bad.npz")]) == 0
        with np.load(tmp / "runs/bad.npz") as z:
            arrays = {k: z[k] for k in z.files}
        edit(arrays)
        np.savez(tmp / "runs/bad.npz", **arrays)
    return make


def flip_bit(arrays: dict) -> None:
    arrays["bits_0"][7] ^= 4


def packed_shape(shape: list[int]) -> Callable[[dict], None]:
    """Edit: the metadata's record of bits_1 says ``shape``."""
    def edit(arrays: dict) -> None:
        meta = json.loads(arrays["meta"].tobytes())
        meta["packed"]["layers"][1]["shape"] = shape
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    return edit


def both(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        for setup in setups:
            setup(tmp)
    return make


def folder(name: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).mkdir(parents=True)


def manifest_edit(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        p = tmp / "art/manifest.json"
        m = json.loads(p.read_text())
        edit(m)
        p.write_text(json.dumps(m, indent=1))
    return make


def npz_without_keys(tmp: Path) -> None:
    np.savez(tmp / "authors.npz", w0=np.ones((16, 784)), w1=np.ones((10, 16)))


def nir_file(w0=None, neuron=None, n_in: int = 784) -> Callable[[Path], None]:
    """net.nir: input(784) -> fc1 -> lif1 -> fc2 -> if2 -> output, with ``neuron`` (a
    function of nir) as lif1 and ``w0`` as fc1's weights; written without type checks."""
    def make(tmp: Path) -> None:
        import nir

        def iff(n, th):
            return nir.IF(r=np.ones(n), v_threshold=np.full(n, th), v_reset=np.full(n, -99.0))
        nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}),
                 "fc1": nir.Linear(weight=np.ones((16, 784)) if w0 is None else w0),
                 "lif1": iff(16, 3.5) if neuron is None else neuron(nir),
                 "fc2": nir.Linear(weight=np.ones((10, 16))), "if2": iff(10, 1.5),
                 "output": nir.Output(output_type={"output": np.array([10])})}
        names = list(nodes)
        nir.write(tmp / "net.nir", nir.NIRGraph(nodes=nodes, type_check=False,
                                                edges=list(zip(names[:-1], names[1:]))))
    return make


# ----------------------------------------------------------------------------- cases

@dataclass(frozen=True)
class Case:
    id: str
    command: str              # module with main(argv)
    args: tuple[str, ...]     # {ck} {art} {data} {tmp} are filled in
    expect: tuple[str, ...]   # substrings of the one-line message
    setup: Callable[[Path], None] | None = None


def set_in(path: str, value):
    """manifest edit: set the field at dotted ``path`` (list indices as numbers)."""
    def edit(m):
        *head, last = [int(k) if k.isdigit() else k for k in path.split(".")]
        for k in head:
            m = m[k]
        m[last] = value
    return edit


T, E, G, R = "model.train", "export.weights", "hdl.generate", "sim.regress"
V, I, C = "model.evaluate", "model.import_authors", "hdl.cycles"
NE, NI, P = "export.nir", "model.import_nir", "model.pack"
LIF = lambda nir: nir.LIF(tau=np.ones(16), r=np.ones(16), v_leak=np.zeros(16),  # noqa: E731
                          v_threshold=np.ones(16))
SPREAD = lambda nir: nir.IF(r=np.ones(16), v_threshold=np.arange(16.0),  # noqa: E731
                            v_reset=np.full(16, -99.0))
NAN_W = np.where(np.arange(16 * 784).reshape(16, 784) == 5, np.nan, 1.0)
CASES = [
    # model.train: numbers, thresholds, output path, data folder: all before training
    Case("train-epochs-negative", T, ("--epochs", "-1"), ("--epochs -1",)),
    Case("train-batch-size-0", T, ("--batch-size", "0"), ("--batch-size 0",)),
    Case("train-hidden-negative", T, ("--hidden", "-5"), ("--hidden",)),
    Case("train-threads-negative", T, ("--threads", "-2"), ("--threads -2",)),
    Case("train-lr-nan", T, ("--lr", "nan"), ("--lr nan", "finite")),
    Case("train-lr-negative", T, ("--lr", "-1"), ("--lr -1",)),
    Case("train-val-size-0", T, ("--val-size", "0"), ("--val-size 0",)),
    Case("train-shift-too-large", T, ("--shift", "40"), ("--shift 40",)),
    Case("train-theta-0", T, ("--theta", "0"), ("theta",)),
    Case("train-theta-above-fan-in", T, ("--hidden", "16", "--theta", "20", "40"), ("--theta", "theta[1] = 40", "1..16")),
    Case("train-epochs-not-a-number", T, ("--epochs", "x"), ("argument --epochs",)),
    Case("train-unknown-rule", T, ("--rule", "hebb"), ("argument --rule",)),
    Case("train-real-with-bayes-rule", T, ("--real", "--rule", "bayes"), ("--real", "bayes")),
    Case("train-momentum-1", T, ("--rule", "bayes", "--momentum", "1"), ("--momentum 1",)),
    Case("train-gumbel-temperature-0", T, ("--rule", "bayes", "--gumbel-temperature", "0"),
         ("--gumbel-temperature 0",)),
    Case("train-mc-samples-0", T, ("--rule", "bayes", "--mc-samples", "0"),
         ("--mc-samples 0",)),
    Case("train-prior-nan", T, ("--rule", "bayes", "--prior", "nan"), ("--prior nan", "finite")),
    Case("train-out-is-directory", T, ("--out", "{tmp}/runs"), ("--out", "is a directory")),
    Case("train-out-under-a-file", T, ("--out", "{tmp}/notes.txt/ck.npz"),
         ("--out", "not a directory"), text_file("notes.txt")),
    Case("train-html-is-directory", T, ("--out", "{tmp}/n.npz", "--html", "{tmp}/runs"),
         ("--html", "is a directory")),
    Case("train-data-dir-missing", T, ("--data-dir", "{tmp}/nosuch"),
         ("--data-dir", "no such directory")),
    # model.evaluate: malformed checkpoints, data folder
    Case("evaluate-missing-checkpoint", V, ("{tmp}/runs/absent.npz",), ("absent.npz", "no such")),
    Case("evaluate-truncated-checkpoint", V, ("{tmp}/runs/bad.npz",),
         ("bad.npz", "not a readable checkpoint"), truncated),
    Case("evaluate-meta-json-list", V, ("{tmp}/runs/bad.npz",), ("bad.npz", "JSON list"),
         meta_list),
    Case("evaluate-nan-weights", V, ("{tmp}/runs/bad.npz",), ("bad.npz", "non-finite"),
         nan_weights),
    Case("evaluate-theta-0", V, ("{tmp}/runs/bad.npz",), ("bad.npz", "theta[0] = 0"),
         bad_ckpt(thetas=(0, 2))),
    Case("evaluate-theta-above-fan-in", V, ("{tmp}/runs/bad.npz",),
         ("bad.npz", "theta[1] = 17", "1..16"), bad_ckpt(thetas=(4, 17))),
    Case("evaluate-mode-bogus", V, ("{tmp}/runs/bad.npz",), ("bad.npz", "mode 'bogus'"),
         bad_ckpt(mode="bogus")),
    Case("evaluate-one-output", V, ("{tmp}/runs/bad.npz",), ("bad.npz", "at least 2"),
         bad_ckpt(widths=(784, 16, 1))),
    Case("evaluate-unknown-layer-kind", V, ("{tmp}/runs/bad.npz",), ("bad.npz", "conv"),
         bad_ckpt(kinds=["dense", "conv"])),
    Case("evaluate-data-dir-missing", V, ("{ck}", "--data-dir", "{tmp}/nosuch"),
         ("--data-dir", "nosuch", "no such directory")),
    Case("evaluate-samples-without-calibration", V, ("{ck}", "--samples", "3"),
         ("--samples", "--calibration")),
    Case("evaluate-samples-negative", V, ("{ck}", "--calibration", "--samples", "-1"),
         ("--samples -1",)),
    Case("evaluate-plot-is-directory", V, ("{ck}", "--calibration", "--plot", "{tmp}/runs"),
         ("--plot", "is a directory")),
    Case("evaluate-plot-exists", V, ("{ck}", "--calibration", "--plot", "{tmp}/notes.txt"),
         ("--plot", "notes.txt", "already exists", "--force"), text_file("notes.txt")),
    Case("evaluate-calibration-mode-real", V, ("{tmp}/runs/bad.npz", "--calibration"),
         ("bad.npz", "binary checkpoint"), bad_ckpt(mode="real")),
    Case("evaluate-data-dir-empty-offline", V, ("{ck}", "--data-dir", "{tmp}/empty"),
         ("mnist", "could not be downloaded"), folder("empty")),
    # model.pack and packed checkpoints (model/packed.py)
    Case("pack-out-exists", P, ("{ck}", "--out", "{tmp}/notes.txt"),
         ("--out", "notes.txt", "already exists", "--force"), text_file("notes.txt")),
    Case("pack-out-is-directory", P, ("{ck}", "--out", "{tmp}/runs"),
         ("--out", "is a directory")),
    Case("pack-mode-real", P, ("{tmp}/runs/bad.npz", "--out", "{tmp}/p.npz"),
         ("bad.npz", "mode 'real'", "only binary"), bad_ckpt(mode="real")),
    Case("pack-distribution", P, ("{tmp}/runs/bad.npz", "--out", "{tmp}/p.npz"),
         ("bad.npz", "distribution", "unpacked"), bayes_ckpt),
    Case("evaluate-packed-flipped-bit", V, ("{tmp}/runs/bad.npz",),
         ("bad.npz", "bits_0", "sha256", "corrupt"), packed_edit(flip_bit)),
    Case("evaluate-packed-bits-wrong-size", V, ("{tmp}/runs/bad.npz",),
         ("bad.npz", "bits_1", "expected uint8 of shape (20,)"),
         packed_edit(lambda a: a.update(bits_1=a["bits_1"][:-1]))),
    Case("export-packed-missing-bits", E, ("{tmp}/runs/bad.npz", "--out", "{tmp}/out"),
         ("bad.npz", "missing array 'bits_0'"), packed_edit(lambda a: a.pop("bits_0"))),
    Case("nir-export-packed-meta-shape", NE, ("{tmp}/runs/bad.npz", "--out", "{tmp}/n.nir"),
         ("bad.npz", "metadata 'packed'", "bits_1"), packed_edit(packed_shape([10, 17]))),
    # model.import_authors
    Case("import-missing-file", I, ("{tmp}/authors.npz", "--out", "{tmp}/runs/a.npz"),
         ("authors.npz", "no such")),
    Case("import-not-npz", I, ("{tmp}/authors.npz", "--out", "{tmp}/runs/a.npz"),
         ("authors.npz", "not a readable"), text_file("authors.npz")),
    Case("import-missing-keys", I, ("{tmp}/authors.npz", "--out", "{tmp}/runs/a.npz"),
         ("authors.npz", "missing keys"), npz_without_keys),
    Case("import-out-is-directory", I, ("{tmp}/authors.npz", "--out", "{tmp}/runs"),
         ("--out", "is a directory"), npz_without_keys),
    # export.nir and model.import_nir (docs/nir.md)
    Case("nir-export-missing-checkpoint", NE, ("{tmp}/runs/absent.npz", "--out", "{tmp}/n.nir"),
         ("absent.npz", "no such checkpoint")),
    Case("nir-export-out-is-directory", NE, ("{ck}", "--out", "{tmp}/runs"),
         ("--out", "is a directory")),
    Case("nir-export-golden-negative", NE, ("{ck}", "--out", "{tmp}/n.nir", "--golden", "-1"),
         ("--golden -1",)),
    Case("nir-export-mode-real", NE, ("{tmp}/runs/bad.npz", "--out", "{tmp}/n.nir"),
         ("bad.npz", "mode 'real'"), bad_ckpt(mode="real")),
    Case("nir-export-data-dir-missing", NE, ("{ck}", "--out", "{tmp}/n.nir", "--data-dir",
                                             "{tmp}/no"), ("--data-dir", "no such directory")),
    Case("nir-import-missing-file", NI, ("{tmp}/net.nir", "--out", "{tmp}/runs/n.npz"),
         ("net.nir", "no such NIR file")),
    Case("nir-import-not-hdf5", NI, ("{tmp}/net.nir", "--out", "{tmp}/runs/n.npz"),
         ("net.nir", "not a readable NIR graph"), text_file("net.nir")),
    Case("nir-import-unsupported-node", NI, ("{tmp}/net.nir", "--out", "{tmp}/runs/n.npz"),
         ("net.nir", "node 'lif1' is a NIR LIF: not supported"), nir_file(neuron=LIF)),
    Case("nir-import-wrong-shape", NI, ("{tmp}/net.nir", "--out", "{tmp}/runs/n.npz"),
         ("net.nir", "type mismatch", "fc1"), nir_file(n_in=700)),
    Case("nir-import-nan-weights", NI, ("{tmp}/net.nir", "--out", "{tmp}/runs/n.npz"),
         ("net.nir", "node 'fc1': weight holds non-finite values"), nir_file(w0=NAN_W)),
    Case("nir-import-thresholds-differ", NI, ("{tmp}/net.nir", "--out", "{tmp}/runs/n.npz"),
         ("net.nir", "node 'lif1': thresholds give theta 1..16"), nir_file(neuron=SPREAD)),
    Case("nir-import-out-is-directory", NI, ("{tmp}/net.nir", "--out", "{tmp}/runs"),
         ("--out", "is a directory"), nir_file()),
    Case("nir-export-out-exists", NE, ("{ck}", "--out", "{tmp}/notes.txt"),
         ("--out", "notes.txt", "already exists", "--force"), text_file("notes.txt")),
    Case("nir-import-out-exists", NI, ("{tmp}/net.nir", "--out", "{tmp}/notes.txt"),
         ("--out", "notes.txt", "already exists", "--force"),
         lambda tmp: (nir_file()(tmp), text_file("notes.txt")(tmp))),
    # export.weights: --out / --force safety, network validation, options, --check
    Case("export-force-over-checkpoint-folder", E, ("{ck}", "--out", "{tmp}/runs", "--force"),
         ("--out", "holds the checkpoint")),
    Case("export-force-over-checkpoint-file", E, ("{ck}", "--out", "{ck}", "--force"),
         ("--out", "not a directory")),
    Case("export-force-over-other-folder", E, ("{ck}", "--out", "{tmp}/mine", "--force"),
         ("--out", "not an earlier export", "notes.txt"), text_file("mine/notes.txt")),
    Case("export-over-other-folder", E, ("{ck}", "--out", "{tmp}/mine"),
         ("mine", "--force"), text_file("mine/notes.txt")),
    Case("export-samples-without-distribution", E, ("{ck}", "--out", "{tmp}/s", "--samples", "2"),
         ("--samples", "not a distribution")),
    Case("export-samples-negative", E, ("{tmp}/runs/bad.npz", "--out", "{tmp}/s", "--samples",
                                        "-1"), ("--samples -1",), bayes_ckpt),
    Case("export-samples-over-other-folder", E, ("{tmp}/runs/bad.npz", "--out", "{tmp}/mine",
                                                 "--samples", "2"),
         ("--out", "mine", "notes.txt"), both(bayes_ckpt, text_file("mine/notes.txt"))),
    Case("export-out-under-a-file", E, ("{ck}", "--out", "{tmp}/notes.txt/art"),
         ("--out", "cannot create"), text_file("notes.txt")),
    Case("export-theta-0", E, ("{tmp}/runs/bad.npz", "--out", "{tmp}/out"),
         ("bad.npz", "theta[0] = 0"), bad_ckpt(thetas=(0, 2))),
    Case("export-theta-above-fan-in", E, ("{tmp}/runs/bad.npz", "--out", "{tmp}/out"),
         ("bad.npz", "theta[1] = 17"), bad_ckpt(thetas=(4, 17))),
    Case("export-mode-bogus", E, ("{tmp}/runs/bad.npz", "--out", "{tmp}/out"),
         ("bad.npz", "mode 'bogus'"), bad_ckpt(mode="bogus")),
    Case("export-mode-real", E, ("{tmp}/runs/bad.npz", "--out", "{tmp}/out"),
         ("bad.npz", "mode 'real'"), bad_ckpt(mode="real")),
    Case("export-five-outputs", E, ("{tmp}/runs/bad.npz", "--out", "{tmp}/out"),
         ("bad.npz", "output width 5"), bad_ckpt(widths=(784, 16, 5))),
    Case("export-three-layers-five-outputs", E, ("{tmp}/runs/bad.npz", "--out", "{tmp}/out"),
         ("bad.npz", "output width 5"), bad_ckpt(widths=(784, 16, 10, 5), thetas=(4, 2, 2))),
    Case("export-one-layer", E, ("{tmp}/runs/bad.npz", "--out", "{tmp}/out"),
         ("bad.npz", "weight layer"), bad_ckpt(widths=(784, 10), thetas=(4,))),
    Case("export-vectors-0", E, ("{ck}", "--out", "{tmp}/out", "--vectors", "0"),
         ("--vectors 0",)),
    Case("export-unknown-dataset", E, ("{ck}", "--out", "{tmp}/out", "--dataset", "cifar"),
         ("unknown dataset 'cifar'",)),
    Case("export-data-dir-missing", E, ("{ck}", "--out", "{tmp}/out", "--data-dir", "{tmp}/no"),
         ("--data-dir", "no such directory")),
    Case("export-check-missing-dir", E, ("{ck}", "--check", "{tmp}/nosuch"),
         ("nosuch", "no such artifact directory")),
    Case("export-check-manifest-not-json", E, ("{ck}", "--check", "{art}"),
         ("manifest.json", "unreadable"), text_file("art/manifest.json", "{oops")),
    Case("export-check-manifest-layers-string", E, ("{ck}", "--check", "{art}"),
         ("manifest.json", "'layers'"), manifest_edit(set_in("layers", "two"))),
    # hdl.generate
    Case("generate-out-into-artifacts", G, ("{art}", "--out", "{art}/manifest.json"),
         ("--out", "inside the artifact directory")),
    Case("generate-out-new-file-in-artifacts", G, ("{art}", "--out", "{art}/core.v"),
         ("--out", "inside the artifact directory")),
    Case("generate-out-is-directory", G, ("{art}", "--out", "{tmp}/runs"),
         ("--out", "is a directory")),
    Case("generate-timing-is-directory", G, ("{art}", "--out", "{tmp}/core.v", "--timing",
                                             "{tmp}/runs"), ("--timing", "is a directory")),
    Case("generate-missing-artifacts", G, ("{tmp}/nosuch", "--out", "{tmp}/core.v"),
         ("nosuch", "no such artifact directory")),
    Case("generate-manifest-bytes-string", G, ("{art}", "--out", "{tmp}/core.v"),
         ("manifest.json", "bytes", "expected an integer"),
         manifest_edit(set_in("layers.0.rom.files.mem.bytes", "2400"))),
    Case("generate-manifest-theta-above-fan-in", G, ("{art}", "--out", "{tmp}/core.v"),
         ("manifest.json", "theta[1] = 17"), manifest_edit(set_in("layers.1.theta", 17))),
    Case("generate-manifest-one-output", G, ("{art}", "--out", "{tmp}/core.v"),
         ("manifest.json", "at least 2"), manifest_edit(set_in("widths", [784, 16, 1]))),
    # sim.regress: options checked before the build and the run
    # hdl.cycles: the cycle statistics read the artifact directory only
    Case("cycles-missing-artifacts", C, ("{tmp}/nosuch",), ("nosuch", "no such artifact directory")),
    Case("cycles-images-0", C, ("{art}", "--images", "0"), ("--images 0",)),
    Case("cycles-unknown-core-parameter", C, ("{art}", "--config", "x:colour=1"),
         ("--config x", "colour")),
    Case("cycles-manifest-theta-above-fan-in", C, ("{art}",), ("manifest.json", "theta[1] = 17"),
         manifest_edit(set_in("layers.1.theta", 17))),
    Case("regress-images-0", R, ("{art}", "--images", "0"), ("--images 0",)),
    Case("regress-raster-out-of-range", R, ("{art}", "--raster", "999"), ("--raster 999",)),
    Case("regress-json-is-directory", R, ("{art}", "--json", "{tmp}/runs"),
         ("--json", "is a directory")),
    Case("regress-html-is-json", R, ("{art}", "--json", "{tmp}/r", "--html", "{tmp}/r"),
         ("--html", "--json")),
    Case("regress-idle-above-1", R, ("{art}", "--idle", "1.5"), ("--idle 1.5",)),
    Case("regress-jobs-0", R, ("{art}", "--jobs", "0"), ("--jobs 0",)),
    Case("regress-scheduler-unreachable", R, ("{art}", "--scheduler", "tcp://127.0.0.1:1",
                                              "--connect-timeout", "0.5"),
         ("--scheduler tcp://127.0.0.1:1",)),
    Case("regress-passes-unknown", R, ("{art}", "--passes", "fast,slow"), ("--passes",)),
    Case("regress-missing-artifacts", R, ("{tmp}/nosuch",), ("no such artifact directory",)),
    Case("regress-tampered-rom", R, ("{art}",), ("layer0.mem", "bytes"),
         text_file("art/layer0.mem", "0\n")),
    Case("ensemble-no-members", "sim.ensemble", ("{tmp}",),
         ("neither an artifact directory nor one holding sample<k>",)),
    Case("ensemble-missing-members", "sim.ensemble", ("{tmp}/nosuch",),
         ("no such artifact directory",)),
    Case("ensemble-too-many-members", "sim.ensemble", ("{art}", "--members", "2"),
         ("--members 2", "1..1")),
    # hdl.build and hdl.host (entry-point wrapper only)
    Case("build-json-is-directory", "hdl.build", ("--board", "arty", "--artifacts", "{art}",
                                                  "--json", "{tmp}/runs"),
         ("--json", "is a directory")),
    Case("build-missing-artifacts", "hdl.build", ("--board", "arty", "--artifacts",
                                                  "{tmp}/nosuch", "--no-tools"),
         ("no such artifact directory",)),
    Case("build-router-on-arty", "hdl.build", ("--board", "arty", "--artifacts", "{art}",
                                               "--router", "router2", "--no-tools"),
         ("--router", "not built with nextpnr")),
    Case("build-tmg-ripup-on-arty", "hdl.build", ("--board", "arty", "--artifacts", "{art}",
                                                  "--tmg-ripup", "--no-tools"),
         ("--tmg-ripup", "not built with nextpnr")),
    Case("build-router-unknown", "hdl.build", ("--board", "ulx3s", "--artifacts", "{art}",
                                               "--router", "router3", "--no-tools"),
         ("--router", "router3")),
    Case("host-missing-serial-port", "hdl.host", ("{art}", "--port", "{tmp}/ttyNOSUCH"),
         ("ttyNOSUCH",)),
    Case("host-missing-artifacts", "hdl.host", ("{tmp}/nosuch", "--port", "sim"),
         ("no such artifact directory",)),
]


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def base(tmp_path_factory, data_dir) -> Path:
    """runs/ck.npz (784-16-10, theta 4/2) and its export art/ (5 vectors)."""
    from export import weights as exporter
    d = tmp_path_factory.mktemp("bad_inputs_base")
    ck = save_ckpt(d / "runs/ck.npz")
    assert exporter.main([str(ck), "--out", str(d / "art"), "--vectors", "5",
                          "--data-dir", str(data_dir), "--quiet"]) == 0
    return d


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root: (kind, mode, sha256 of a file)."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
        out[str(p.relative_to(root))] = (p.is_dir(), st.st_mode, digest)
    return out


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """The tests never download: every URL fails at once."""
    import urllib.request

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, base, data_dir, tmp_path, monkeypatch, capsys):
    shutil.copytree(base / "runs", tmp_path / "runs")
    shutil.copytree(base / "art", tmp_path / "art")
    if case.setup:
        case.setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    argv = [a.format(ck=tmp_path / "runs/ck.npz", art=tmp_path / "art", tmp=tmp_path,
                     data=data_dir) for a in case.args]
    before = snapshot(tmp_path)
    main = importlib.import_module(case.command).main
    try:
        rc = main(argv)
    except SystemExit as exc:             # argparse's own errors
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for text in case.expect:
        assert text in lines[0], (text, lines[0])
    assert snapshot(tmp_path) == before


def test_debug_shows_the_traceback(base, tmp_path):
    from model.evaluate import main
    with pytest.raises(Exception, match="no such checkpoint"):
        main([str(tmp_path / "absent.npz"), "--debug"])


def test_table_lists_every_case():
    """docs/bad-inputs.md has one row per case, by id, and no others."""
    text = (ROOT / "docs/bad-inputs.md").read_text()
    ids = re.findall(r"^\| `([a-z0-9-]+)` \|", text, re.M)
    assert sorted(ids) == sorted(c.id for c in CASES)
    assert len(CASES) >= 40


def test_outputs_follow_the_umask(tmp_path):
    """Atomic files and folders get 0o666 / 0o777 less the umask, not mkstemp's 0600."""
    import os
    from contract.files import atomic_path
    from export.directory import atomic_directory
    old = os.umask(0o027)
    try:
        with atomic_path(tmp_path / "core.v") as tmp:
            tmp.write_text("module m; endmodule\n")
        with atomic_directory(tmp_path / "art") as tmp:
            (tmp / "a").write_text("a")
    finally:
        os.umask(old)
    assert (tmp_path / "core.v").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "art").stat().st_mode & 0o777 == 0o750


def test_force_replaces_an_earlier_export(base, data_dir, tmp_path):
    """What --force may replace: an artifact directory, and nothing else."""
    from export import weights as exporter
    shutil.copytree(base / "art", tmp_path / "art")
    other = save_ckpt(tmp_path / "other.npz", thetas=(5, 2))
    assert exporter.main([str(other), "--out", str(tmp_path / "art"), "--vectors", "5",
                          "--data-dir", str(data_dir), "--quiet", "--force"]) == 0
    assert json.loads((tmp_path / "art/manifest.json").read_text())["layers"][0]["theta"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art", "other.npz"]


def test_python_dash_m_exit_status(tmp_path):
    """The ``python -m`` entry point exits 2 with the one line, no traceback."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "model.evaluate", str(tmp_path / "absent.npz")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {tmp_path / 'absent.npz'}: no such checkpoint file"
