"""Pack a checkpoint: its binary weights as bits (model/packed.py), for inference and export.

    python -m model.pack runs/mnist.npz --out pretrained/mnist-784-600-10.npz
    python -m model.pack runs/conv.npz --out pretrained/conv.npz \\
        --train-command "python -m model.train --arch conv16k5,pool2,conv32k5,pool2,fc10"

The packed file (format bs4nn-packed/1: one bit per weight, about 60 kB for 784-600-10) is
read wherever a checkpoint is accepted (model.evaluate, export.weights, export.nir,
``CKPT=... bash scripts/main.sh``) and gives the same binary weights, thresholds, layers and
metadata (dataset, config, history, validation and test figures). The latent real weights
are dropped: a packed checkpoint is for inference and export only and cannot continue
training. Binary checkpoints only; a --rule bayes checkpoint (a distribution over the
weights) stays unpacked. The training command is recorded as given with --train-command,
else rebuilt from the recorded config (the options that differ from today's defaults).
The file is read back and compared with the source before it is renamed into place; an
existing --out is refused unless --force.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from contract.cli import Parser, command
from contract.errors import UsageError
from contract.files import atomic_path, check_output_file, sha256_file

from .checkpoint import Checkpoint, load_checkpoint
from .packed import BIT_MEANING, BIT_ORDER, PACKED_FORMAT, packed_arrays


def train_command(config: dict) -> str:
    """``python -m model.train`` with the options of ``config`` that differ from the defaults."""
    from .train import build_parser, cli_fields
    defaults = vars(build_parser().parse_args([]))
    words = ["python", "-m", "model.train"]
    for f in cli_fields():
        value = config.get(f.name, defaults[f.name])
        if isinstance(defaults[f.name], list) and not isinstance(value, list):
            value = [value]                 # older configs held one number
        if value == defaults[f.name] or value in (None, "", []):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag)
        else:
            words += [flag, *(str(v) for v in (value if isinstance(value, list) else [value]))]
    return shlex.join(words)


def packed_meta(ck: Checkpoint, source: Path, command_text: str | None, records) -> dict:
    """The source's metadata with the packed format, its layer records and provenance."""
    given = command_text is not None
    return dict(ck.meta, format=PACKED_FORMAT, packed={
        "bit_order": BIT_ORDER, "bit_meaning": BIT_MEANING, "layers": records,
        "latent": "dropped: inference and export only (cannot continue training)",
        "source": {"file": source.name, "format": ck.meta.get("format"),
                   "sha256": sha256_file(source)},
        "train_command": command_text if given else train_command(ck.meta.get("config", {})),
        "train_command_from": "given" if given else "rebuilt from the recorded config"})


def check_packable(ck: Checkpoint, path: Path) -> None:
    if ck.meta.get("mode", "binary") != "binary":
        raise UsageError(f"{path}: mode {ck.meta.get('mode')!r}: only binary checkpoints "
                         "are packed")
    if ck.meta.get("distribution"):
        raise UsageError(f"{path}: holds a distribution over binary weights (--rule bayes); "
                         "packing would keep one network of it: keep the checkpoint unpacked")


def same_network(a: Checkpoint, b: Checkpoint) -> bool:
    return (a.thetas == b.thetas and a.widths == b.widths and len(a.latent) == len(b.latent)
            and all(np.array_equal(x, y) for x, y in zip(a.binary_weights, b.binary_weights)))


@command
def main(argv=None) -> int:
    p = Parser(prog="python -m model.pack", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, help="checkpoint .npz (model/checkpoint.py format)")
    p.add_argument("--out", type=Path, required=True, help="packed checkpoint to write")
    p.add_argument("--train-command", default=None, metavar="TEXT",
                   help="the command that trained it, recorded as given")
    p.add_argument("--force", action="store_true", help="replace --out when it exists")
    a = p.parse_args(argv)
    check_output_file(a.out, "--out", keep_existing=not a.force)
    ck = load_checkpoint(a.checkpoint)
    size_before = a.checkpoint.stat().st_size
    check_packable(ck, a.checkpoint)
    arrays, records = packed_arrays(ck.latent)
    meta = packed_meta(ck, a.checkpoint, a.train_command, records)
    arrays["fact"] = np.asarray(ck.fact, np.float64)
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    with atomic_path(a.out, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
        if not same_network(ck, load_checkpoint(tmp)):
            raise RuntimeError(f"{a.out}: the packed weights read back differ from "
                               f"{a.checkpoint}'s (not written)")
    size = a.out.stat().st_size
    print(f"wrote {a.out}: {size / 1e3:.1f} kB ({size_before / 1e3:.1f} kB "
          f"before), {sum(r['bytes'] for r in records)} bytes of weight bits, widths "
          f"{ck.widths}, theta {ck.thetas}; inference and export only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
