"""Train a BS4NN (Kheradpisheh, Mirsadeghi & Masquelier 2021, arXiv 2007.04039).

    python -m model.train --dataset mnist --out runs/mnist.npz
    python -m model.train --rule bs4nn --lr 1.0 --gamma 5 --no-spike s4nn
    python -m model.train --arch conv16k5,pool2,conv32k5,pool2,fc10 --out runs/conv.npz
    python -m model.train --max-minutes 4 --out runs/mnist.npz --html runs/mnist.html

The forward pass is the integer contract (model.layer, the golden model) on the signs of
the latent real weights (``--real``: on the weights themselves); only the backward differs
between the rules
(docs/numerics.md, "Training rules"):

* ``decision`` (default, model/rules/decision_ce.py): cross-entropy on the output potentials
  at the decision step, whose argmax *is* the hardware's decision; binary-network backward
  with a surrogate derivative at each hidden threshold; Adam on latent weights clipped to
  [-1, 1]; fixed integer thresholds (``--theta``).
* ``bs4nn`` (model/rules/bs4nn.py): the paper's rule, target spike times and a temporal
  straight-through backward, learned threshold scale; SGD (or Adam).
* ``bayes`` (model/rules/bayes.py): a distribution over the binary weights (natural
  parameters lambda, P(+1) = sigmoid(2 lambda)) learnt with BayesBiNN's Bayesian learning
  rule on sampled networks, with the decision rule's loss and backward; the checkpoint
  stores lambda (its binary weights are the most probable network).

Mini-batches are split over ``--threads`` worker threads (the compiled kernels of
model/kernels/ release the GIL; one thread, the default, was the fastest on 2 cores) and the
slices' gradients summed. ``--shift`` adds random translations of up to
that many pixels. ``--real`` trains the S4NN-style real-valued variant of the same network
(decision or bs4nn rule; the forward uses the real weights, not their signs).
``--arch SPEC`` gives any stack of conv, pool and dense layers (model/arch.py;
docs/numerics.md, "Convolution", "Pooling"); ``--hidden`` is the shorthand for dense ones.
The epoch with the best validation accuracy (strict) is kept; the test set is only
evaluated at the end. ``--html PATH`` also writes one self-contained report of the run
(model/html_report.py).
"""
from __future__ import annotations

import os

# The trainer parallelises over threads itself; a multi-threaded BLAS on top of that only
# spins (set before NumPy is first imported, i.e. under ``python -m model.train``).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import typing  # noqa: E402
from dataclasses import MISSING, fields  # noqa: E402

from contract.cli import Parser, command  # noqa: E402
from contract.errors import UsageError  # noqa: E402
from contract.files import check_output_file  # noqa: E402

from .config import TrainConfig  # noqa: E402
from .data import check_data_dir  # noqa: E402
from .loop import train  # noqa: E402


def cli_fields():
    """The TrainConfig fields that are command-line options (those with help text)."""
    return [f for f in fields(TrainConfig) if "help" in f.metadata]


def add_option(parser, f, hint) -> None:
    """``--name-with-dashes`` for field ``f`` whose resolved type hint is ``hint``."""
    flag = "--" + f.name.replace("_", "-")
    default = f.default if f.default is not MISSING else f.default_factory()
    kw = {"default": default, "help": f.metadata["help"]}
    if f.metadata.get("choices"):
        kw["choices"] = f.metadata["choices"]
    if hint is bool:
        parser.add_argument(flag, action="store_true", **kw)
    elif typing.get_origin(hint) is list:
        parser.add_argument(flag, type=typing.get_args(hint)[0], nargs="+", **kw)
    else:
        parser.add_argument(flag, type=hint, **kw)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m model.train", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None,
                   help="folder with the IDX .gz files (or env BS4NN_DATA)")
    p.add_argument("--out", default=None, help="checkpoint path (default runs/<dataset>.npz)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--html", default=None, metavar="PATH", help="also write one "
                   "self-contained HTML report: summary, training curves, decision steps, "
                   "spike rasters of a few test images")
    hints = typing.get_type_hints(TrainConfig)
    groups = {}
    for f in cli_fields():
        name = f.metadata.get("group")
        if name and name not in groups:
            groups[name] = p.add_argument_group(name)
        add_option(groups.get(name, p), f, hints[f.name])
    return p


@command
def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    cfg = TrainConfig(**{f.name: getattr(a, f.name) for f in cli_fields()})
    cfg.resolved()
    out = check_output_file(a.out or f"runs/{a.dataset}{'-real' if a.real else ''}.npz", "--out")
    if a.html is not None:
        html = check_output_file(a.html, "--html")
        if html.resolve() in (out.resolve(), out.with_suffix(".png").resolve()):
            raise UsageError(f"--html {a.html}: is also the checkpoint or its curve PNG")
    check_data_dir(a.data_dir)
    ck, hist = train(cfg, a.data_dir, out, progress=not a.no_progress,
                     log=lambda s: print(s, flush=True))
    m = ck.meta
    name = m.get("arch") or ck.widths
    print(f"summary: {cfg.dataset} {name} {m['mode']} ({cfg.rule} rule) epoch "
          f"{m['selected_epoch']}/{len(hist)} val strict {m['val']['strict']:.4f} test strict "
          f"{m['test']['strict']:.4f} paper {m['test']['paper']:.4f} ties {m['test']['ties']} "
          f"no-spike {m['test']['no_spike']} theta {m['theta']} {m['samples_per_second']:.0f} "
          f"samples/s {m['train_seconds']:.0f} s -> {out}", flush=True)
    if a.html is not None:
        from .data import load
        from .html_report import write_training_html
        test = load(cfg.dataset, a.data_dir, val_size=cfg.val_size).test
        line = "python -m model.train " + shlex.join(argv if argv is not None else sys.argv[1:])
        page = write_training_html(a.html, ck, test.images, test.labels, line)
        print(f"html report: {page}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
