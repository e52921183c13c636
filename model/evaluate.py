"""Test-set figures of a checkpoint under the project's numerics (docs/numerics.md: "Time",
"Encoding", "Neuron", "Decision").

    python -m model.evaluate runs/mnist.npz [--data-dir DIR] [--json]
    python -m model.evaluate runs/bayes.npz --calibration [--samples M] [--plot PNG]

Reports strict accuracy (the decision the hardware outputs), paper accuracy (a tie that
contains the label counts as correct), the number of ties and of images with no output
spike, and the mean number of spikes per image in each layer. Binary checkpoints run the
integer golden model (model.network) on the weights' signs and the integer thresholds;
"real" checkpoints run the S4NN-style real-valued forward (model.realvalued). A packed
checkpoint (model/packed.py, pretrained/) gives the figures of the one it was packed from.
Any architecture (dense, conv, pool layers) is run as its checkpoint describes it; the
spikes per layer count pooling layers too.

``--calibration`` reports confidence instead (model/calibration_report.py; docs/numerics.md,
"Calibration and ensembles"): strict accuracy, ECE (15 bins), NLL and Brier score on the
test split for the single network, temperature-scaled on the validation split, and with
``--samples M`` for a majority-vote ensemble of M networks sampled from a bayes
checkpoint's distribution (``--seed``); ``--plot`` writes the reliability diagram.
"""
from __future__ import annotations

import os

# The forward parallelises over its own threads; a threaded BLAS on top only spins (set
# before NumPy is first imported, i.e. under ``python -m model.evaluate``).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from contract.cli import Parser, command  # noqa: E402
from contract.errors import UsageError  # noqa: E402
from contract.files import check_output_file  # noqa: E402

from .arch import spec_of  # noqa: E402
from .calibration_report import calibration_report, format_report  # noqa: E402
from .checkpoint import load_checkpoint  # noqa: E402
from .data import load  # noqa: E402
from .decision import accuracy  # noqa: E402
from contract.numerics import SILENT  # noqa: E402
from .network import forward  # noqa: E402
from .realvalued import real_forward  # noqa: E402


def checkpoint_forward(ck, images):
    """The forward pass of checkpoint ``ck`` on ``images``: the integer golden model for a
    binary checkpoint, the real-valued one for mode "real"."""
    if ck.meta.get("mode", "binary") == "binary":
        return forward(images, ck.binary_weights, ck.thetas, arch=ck.conv_arch)
    thr = ck.meta.get("thr", [100.0] * len(ck.latent))   # "real"; load_checkpoint refuses others
    return real_forward(images, ck.latent, [t / fa for t, fa in zip(thr, ck.fact)],
                        arch=ck.conv_arch)


def evaluate_checkpoint(path, data_dir=None, split: str = "test") -> dict:
    """Figures for checkpoint ``path`` on the dataset its metadata names."""
    ck = load_checkpoint(path)
    mode = ck.meta.get("mode", "binary")
    name = ck.meta.get("dataset", "mnist")
    ds = load(name, data_dir)
    part = getattr(ds, split)
    t0 = time.time()
    f = checkpoint_forward(ck, part.images)
    dt = time.time() - t0
    strict, paper = accuracy(f.decision, part.labels)
    return {"checkpoint": str(path), "dataset": name, "split": split, "mode": mode,
            "widths": ck.widths, "arch": spec_of(ck.arch), "theta": ck.thetas, "n": len(part),
            "strict": round(strict, 6), "paper": round(paper, 6),
            "ties": int(f.decision.tie.sum()), "no_spike": int(f.decision.no_spike.sum()),
            "mean_spikes": [round(float((s < SILENT).sum()) / len(part), 3) for s in f.spikes],
            "mean_step": round(float(f.decision.step.mean()), 2),
            "seconds": round(dt, 2), "images_per_second": round(len(part) / max(dt, 1e-9), 1)}


def calibration(a) -> int:
    """``--calibration``: check the options, then print the report (text or JSON)."""
    if not a.calibration:
        raise UsageError("--samples and --plot go with --calibration")
    if a.samples < 0:
        raise UsageError(f"--samples {a.samples}: expected an integer >= 0")
    if a.split != "test":
        raise UsageError("--split: --calibration reports the test split (temperatures are "
                         "fitted on the validation split)")
    if a.plot:
        check_output_file(a.plot, "--plot", keep_existing=not a.force)
    r = calibration_report(a.checkpoint, a.data_dir, a.samples, a.seed, a.plot)
    print(json.dumps(r, sort_keys=True) if a.json else format_report(r))
    return 0


@command
def main(argv=None) -> int:
    p = Parser(prog="python -m model.evaluate", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--data-dir", default=None, help="folder with the IDX .gz files (or env BS4NN_DATA)")
    p.add_argument("--split", choices=("test", "val"), default="test")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--calibration", action="store_true", help="confidence figures: ECE, NLL, "
                   "Brier, strict accuracy (temperature fitted on the validation split)")
    p.add_argument("--samples", type=int, default=0, metavar="M", help="with --calibration: "
                   "an ensemble of M networks sampled from the checkpoint's distribution")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled networks")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="with --calibration: write the reliability diagram")
    p.add_argument("--force", action="store_true", help="replace --plot when it exists")
    a = p.parse_args(argv)
    if a.calibration or a.samples or a.plot:
        return calibration(a)
    r = evaluate_checkpoint(a.checkpoint, a.data_dir, a.split)
    if a.json:
        print(json.dumps(r, sort_keys=True))
    else:
        print(f"{r['checkpoint']}: {r['dataset']} {r['split']} ({r['n']} images), {r['mode']} "
              f"{r['arch']} {r['widths']} theta {r['theta']}\n"
              f"  strict accuracy {r['strict']:.4f}   paper accuracy {r['paper']:.4f}\n"
              f"  ties {r['ties']}   no output spike {r['no_spike']}   "
              f"mean decision step {r['mean_step']}\n"
              f"  mean spikes per image per layer {r['mean_spikes']}   "
              f"({r['images_per_second']:.0f} images/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
