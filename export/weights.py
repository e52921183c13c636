"""Export a checkpoint to an artifact directory (docs/artifacts.md): weight ROMs + golden vectors.

    python -m export.weights runs/authors.npz --out artifacts/authors
    python -m export.weights runs/authors.npz --out artifacts/quick --vectors 200
    python -m export.weights runs/authors.npz --check artifacts/authors
    python -m export.weights runs/bayes.npz --samples 5 --out artifacts/bayes5

Writes one ROM per weight layer (.mem for $readmemh, .coe for Vivado, .bin packed),
manifest.json, vectors.npz (golden vectors of the test set, or of its first N images) and
stress.npz (hand-built edge cases). Output is built in a temporary folder beside DIR and
renamed into place; a DIR holding a different export is refused unless --force, and --force
replaces only an earlier export (never a file, nor a folder holding anything else).
--check re-derives the ROMs from the checkpoint and compares them bit for bit (exit 1
with the differences).
A checkpoint holding a distribution over binary weights (``--rule bayes``) exports its most
probable network; ``--samples M`` exports M networks drawn from it (``--seed``) instead, as
M complete artifact directories DIR/sample0 ... DIR/sample<M-1> (docs/artifacts.md,
"Sampled networks").
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contract.artifacts import SAMPLE_DIR
from contract.cli import Parser, command
from contract.errors import UsageError
from export.check import check_dir
from export.directory import check_target, refuse_early, write_dir
from export.writer import build_export
from model.checkpoint import load_checkpoint
from model.data import check_data_dir
from model.posterior import has_distribution

def export_samples(a, ck, out: Path) -> int:
    """``--samples M``: one complete export per sampled network, DIR/sample<k>."""
    if a.samples < 1:
        raise UsageError(f"--samples {a.samples}: expected a count >= 1")
    if a.seed < 0:
        raise UsageError(f"--seed {a.seed}: expected an integer >= 0")
    if not has_distribution(ck):
        raise UsageError(f"--samples: {a.checkpoint} holds one network, not a distribution "
                         "over binary weights (train with --rule bayes)")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is not a directory; an export never replaces a file")
    other = [p.name for p in out.iterdir() if not SAMPLE_DIR.fullmatch(p.name)] \
        if out.is_dir() else []
    if other:
        raise UsageError(f"--out {out}: holds {', '.join(sorted(other)[:3])}, not only "
                         "sample<k> exports; choose another directory")
    subs = [out / f"sample{k}" for k in range(a.samples)]
    for sub in subs:
        check_target(sub, a.checkpoint, a.force)
        if not a.force:
            refuse_early(sub, a.checkpoint, a.vectors)
    out.mkdir(parents=True, exist_ok=True)
    for k, sub in enumerate(subs):
        files, s = build_export(a.checkpoint, a.vectors, a.data_dir, a.dataset,
                                progress=not a.quiet, sample={"index": k, "seed": a.seed})
        what = write_dir(sub, files, a.force)
        print(f"{what} {sub}: sample {k} (seed {a.seed}), {s['n']} vectors + {s['stress']} "
              f"stress, test strict {s['strict']:.4f} paper {s['paper']:.4f}")
    return 0


@command
def main(argv=None) -> int:
    p = Parser(prog="python -m export.weights", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path,
                   help="checkpoint .npz (model/checkpoint.py format, full or packed)")
    p.add_argument("--out", type=Path, help="artifact directory to write "
                   "(default: artifacts/<checkpoint stem>)")
    p.add_argument("--vectors", type=int, default=None, metavar="N",
                   help="golden vectors for the first N test images (default: the whole test set)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $BS4NN_DATA, ...)")
    p.add_argument("--dataset", default=None, help="override the checkpoint's meta['dataset']")
    p.add_argument("--force", action="store_true", help="replace a DIR holding a different export")
    p.add_argument("--check", type=Path, metavar="DIR",
                   help="do not write: re-derive the ROMs and compare DIR's bit for bit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--samples", type=int, default=0, metavar="M", help="export M networks "
                   "sampled from the checkpoint's distribution, into DIR/sample0 ... (bayes "
                   "checkpoints)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled networks")
    a = p.parse_args(argv)
    if a.check is not None:
        problems = check_dir(a.checkpoint, a.check)
        if problems:
            print(f"check FAILED: {a.check} vs {a.checkpoint}:", file=sys.stderr)
            for msg in problems:
                print(f"  {msg}", file=sys.stderr)
            return 1
        print(f"check ok: {a.check} ROMs match {a.checkpoint} bit for bit")
        return 0
    if a.vectors is not None and a.vectors < 1:
        raise UsageError(f"--vectors {a.vectors}: expected a count >= 1")
    ck = load_checkpoint(a.checkpoint)       # its errors first, before any other work
    check_data_dir(a.data_dir)
    out = a.out or Path("artifacts") / a.checkpoint.stem
    if a.samples or a.seed:
        return export_samples(a, ck, out)
    check_target(out, a.checkpoint, a.force)
    if not a.force:
        refuse_early(out, a.checkpoint, a.vectors)
    files, s = build_export(a.checkpoint, a.vectors, a.data_dir, a.dataset,
                            progress=not a.quiet)
    what = write_dir(out, files, a.force)
    size = sum(len(b) for b in files.values())
    print(f"{what} {out}: widths {s['widths']} theta {s['thetas']}, {s['n']} vectors + "
          f"{s['stress']} stress, test strict {s['strict']:.4f} paper {s['paper']:.4f}, "
          f"{size / 1e6:.1f} MB, {s['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
