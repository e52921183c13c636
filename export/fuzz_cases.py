"""Random networks and images as artifact directories, for ``python -m sim.fuzz`` (docs/fuzz.md).

    python -m export.fuzz_cases generate --nets 100 --seed 1 --images 20 --out DIR
    python -m export.fuzz_cases derive SRC --keep vectors:3 --drop 0,5,17 --drop 2 --out DST

``generate`` writes DIR/index.json ({"shapes": {name: [case dirs]}}) and one artifact
directory (docs/artifacts.md) per network, grouped by shape (its widths), so that one core
build with runtime-loaded weights serves every network of a shape. ``derive`` writes a
smaller case from one per ``--drop``, DST/v0, DST/v1, ... (one, DST/v0, without): the
``--keep`` images only, with the dropped inputs' pixels set to 0 (their events gone); the
golden vectors are recomputed. sim/ never imports model/ or export/:
it runs this module as a process and reads the directories it writes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from contract.artifacts import MANIFEST, SCHEMA, load_artifacts, vector_spec
from contract.cli import Parser, command
from contract.errors import UsageError
from contract.files import atomic_path
from contract.network import validate_network
from contract.rom import acc_bits
from export.directory import atomic_directory
from export.golden import potential_extremes, run_golden, vector_arrays
from export.stress import build_stress
from export.writer import DECISION, ENCODING, file_entry, npz_bytes, rom_files

WIDTH_RANGES = {"in": (16, 40), "hidden": (4, 16), "out": (2, 10)}


def random_shape(rng, n_layers: int) -> list[int]:
    """Widths of a network with ``n_layers`` weight layers (small: fast to simulate)."""
    widths = [int(rng.integers(*WIDTH_RANGES["in"], endpoint=True))]
    widths += [int(rng.integers(*WIDTH_RANGES["hidden"], endpoint=True))
               for _ in range(n_layers - 1)]
    return widths + [int(rng.integers(*WIDTH_RANGES["out"], endpoint=True))]


def random_theta(rng, fan_in: int) -> int:
    """A threshold mix: mostly reachable, some 1 (everything fires), some fan-in (the extreme:
    every input active with weight +1), some anywhere."""
    kind = rng.choice(["mid", "low", "high", "any"], p=[0.55, 0.15, 0.1, 0.2])
    if kind == "low":
        return 1
    if kind == "high":
        return fan_in
    if kind == "any":
        return int(rng.integers(1, fan_in, endpoint=True))
    return int(rng.integers(1, max(1, round(np.sqrt(fan_in))), endpoint=True))


def random_network(rng, widths: list[int]):
    """+-1 weights (fan_out, fan_in) per layer, each neuron with its own share of +1 (so some
    drift up and fire), and thresholds; sometimes two output neurons share a weight row
    (ties with equal potentials: the lowest index wins)."""
    ws = []
    for l in range(len(widths) - 1):
        plus = rng.uniform(0.25, 0.9, (widths[l + 1], 1))
        ws.append(np.where(rng.random((widths[l + 1], widths[l])) < plus, 1, -1).astype(np.int8))
    if rng.random() < 0.3:
        a, b = rng.choice(widths[-1], 2, replace=False)
        ws[-1][b] = ws[-1][a]
    return ws, [random_theta(rng, f) for f in widths[:-1]]


def random_images(rng, n: int, n0: int) -> np.ndarray:
    """uint8 images: uniform intensities, coarse levels (many events per step: ties of
    arrival), sparse ones, and now and then an empty image."""
    out = np.zeros((n, n0), np.uint8)
    for k in range(n):
        density = rng.uniform(0.05, 1.0)
        on = rng.random(n0) < density
        kind = k % 4
        if kind == 0:
            vals = rng.integers(1, 256, n0)
        elif kind == 1:
            vals = rng.choice([1, 64, 128, 192, 255], n0)
        elif kind == 2:
            vals = rng.integers(200, 256, n0)
        else:
            vals = rng.integers(1, 256, n0) * (rng.random() < 0.9)
        out[k] = np.where(on, vals, 0)
    return out


def case_files(weights, thetas, images, labels, stress: bool, source: dict) -> dict[str, bytes]:
    """An artifact directory's files for one network and its images (+ stress cases)."""
    widths = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    validate_network(widths, list(thetas), where="fuzz case")
    L = len(weights)
    g = run_golden(images, weights, thetas)
    vec = vector_arrays(images, labels, g, L)
    if stress:
        s_img, s_lab, s_meta = build_stress(weights, thetas, images, labels, g)
    else:
        s_img, s_lab, s_meta = images[:1], labels[:1], [{"index": 0, "case": "copy_of_vector_0",
                                                          "why": "derived case: no stress set"}]
    gs = run_golden(s_img, weights, thetas)
    st = vector_arrays(s_img, s_lab, gs, L)
    vmin, vmax = potential_extremes(s_img, [gs[f"spikes_{l}"] for l in range(L)], weights)
    st.update(case=np.array([c["case"] for c in s_meta]), v_min=vmin, v_max=vmax)
    files, layers = rom_files(weights)
    for l, lay in enumerate(layers):
        lay["theta"] = int(thetas[l])
        lay["acc_bits"] = acc_bits(lay["fan_in"])
    files["vectors.npz"], files["stress.npz"] = npz_bytes(vec), npz_bytes(st)
    keys = list(vector_spec(widths, len(images)))
    manifest = {
        "schema": SCHEMA, "generator": "python -m export.fuzz_cases", "widths": widths,
        "layers": layers, "encoding": ENCODING, "decision": DECISION, "source": source,
        "vectors": {
            "vectors": dict(file_entry("vectors.npz", files["vectors.npz"]), count=len(images),
                            events=int(vec["ev_offsets"][-1]), source="random images", keys=keys),
            "stress": dict(file_entry("stress.npz", files["stress.npz"]), count=len(s_img),
                           events=int(st["ev_offsets"][-1]), cases=s_meta,
                           keys=keys + ["case", "v_min", "v_max"])}}
    files[MANIFEST] = (json.dumps(manifest, indent=1) + "\n").encode()
    return files


def write_case(out: Path, files: dict[str, bytes]) -> None:
    with atomic_directory(out) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)


def generate(n_nets: int, seed: int, n_images: int, n_shapes: int, out: Path,
             shape_seed: int = 0) -> dict:
    """Write ``n_nets`` random cases under ``out``; returns the index. The shapes come from
    ``shape_seed`` (so runs with other seeds reuse the builds), the rest from ``seed``."""
    shape_rng = np.random.default_rng(shape_seed)
    shapes = [random_shape(shape_rng, 2 + k % 3) for k in range(n_shapes)]
    rng = np.random.default_rng(seed)
    index: dict[str, list[str]] = {}
    for k in range(n_nets):
        widths = shapes[k % n_shapes]
        name = "-".join(map(str, widths))
        ws, th = random_network(rng, widths)
        imgs = random_images(rng, n_images, widths[0])
        files = case_files(ws, th, imgs, np.full(n_images, -1, np.int16), True,
                           {"fuzz_seed": seed, "net": k})
        d = out / name / f"net{k:05d}"
        write_case(d, files)
        index.setdefault(name, []).append(str(d))
    doc = {"seed": seed, "shape_seed": shape_seed, "nets": n_nets, "images": n_images, "shapes": index}
    with atomic_path(out / "index.json") as tmp:
        tmp.write_text(json.dumps(doc, indent=1))
    return doc


def derive(src: Path, keep: list[tuple[str, int]], drop: list[int], out: Path) -> None:
    """A smaller case: images ``keep`` of ``src`` only, inputs ``drop`` silenced."""
    art = load_artifacts(src)
    imgs = np.stack([getattr(art, s)["images"][n] for s, n in keep]).copy()
    imgs[:, drop] = 0
    files = case_files(art.weights, art.thetas, imgs, np.full(len(imgs), -1, np.int16), False,
                       {"derived_from": str(src), "images": [f"{s}:{n}" for s, n in keep],
                        "dropped_inputs": drop})
    write_case(out, files)


def _image_ref(text: str) -> tuple[str, int]:
    s, _, n = text.partition(":")
    if s not in ("vectors", "stress") or not n.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected vectors:N or stress:N")
    return s, int(n)


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a comma list of integers") from None


@command
def main(argv=None) -> int:
    p = Parser(prog="python -m export.fuzz_cases", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    g = sub.add_parser("generate", help="random networks and images")
    g.add_argument("--nets", type=int, required=True)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--images", type=int, default=20)
    g.add_argument("--shapes", type=int, default=3)
    g.add_argument("--shape-seed", type=int, default=0)
    g.add_argument("--out", type=Path, required=True)
    d = sub.add_parser("derive", help="a smaller case from one")
    d.add_argument("src", type=Path)
    d.add_argument("--keep", type=_image_ref, action="append", required=True)
    d.add_argument("--drop", type=_int_list, action="append", default=[])
    d.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    if a.what == "generate":
        for flag, v in (("--nets", a.nets), ("--images", a.images), ("--shapes", a.shapes)):
            if v < 1:
                raise UsageError(f"{flag} {v}: expected an integer >= 1")
        doc = generate(a.nets, a.seed, a.images, a.shapes, a.out, a.shape_seed)
        print(f"{a.nets} cases in {len(doc['shapes'])} shapes under {a.out}")
    else:
        drops = a.drop or [[]]
        for k, drop in enumerate(drops):
            derive(a.src, a.keep, drop, a.out / f"v{k}")
        print(f"derived {len(drops)} cases under {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
