"""Stress cases: hand-built and searched images that reach the edges of the numerics.

Each case names why it is there (docs/artifacts.md, "Stress cases"): empty and saturated
images, accumulator extremes of layer 0, no output spike, ties broken by potential and by
index (docs/numerics.md, "Ties", "No-spike fallback"), the latest decision; for conv
networks also the cases of export/stress_conv.py.
"""
from __future__ import annotations

import numpy as np

from export.golden import connection_matrices, run_golden
from export.stress_conv import conv_cases


def _first(mask: np.ndarray):
    idx = np.flatnonzero(mask)
    return int(idx[0]) if len(idx) else None


def _equal_v_ties(g: dict) -> np.ndarray:
    """Ties whose tied winners also share the highest crossing potential."""
    big = np.where(g["winners"], g["v_cross"].astype(np.int32), np.iinfo(np.int32).min)
    return g["tie"] & ((big == big.max(axis=1, keepdims=True)).sum(axis=1) > 1)


def build_stress(weights, thetas, test_images, test_labels, g_test: dict, seed: int = 0,
                 arch=None):
    """Hand-built edge cases -> (images (S, N0) uint8, labels (S,), cases list of dicts).
    ``arch``: the layers of a network with conv or pool layers (None: dense)."""
    n0 = test_images.shape[1]
    rng = np.random.default_rng(seed)
    cases: list[tuple[str, np.ndarray, int, str]] = []

    def add(name, img, label=-1, why=""):
        cases.append((name, np.asarray(img, np.uint8), int(label), why))

    add("all_zero", np.zeros(n0), why="no pixel > 0: the single event (255, 0); no output spike")
    single = np.zeros(n0, np.uint8)
    single[n0 // 2 + (28 // 2 if n0 == 784 else 0)] = 255
    add("single_pixel", single, why="one pixel at 255 (one event, step 0)")
    add("all_255_step0", np.full(n0, 255), why="every input spikes at step 0")
    add("all_128_step127", np.full(n0, 128), why="every input spikes at mid step 127")
    add("all_1_step254", np.full(n0, 1), why="every input spikes at step 254, the last kept step")
    # Accumulator extremes of layer 0: light exactly the inputs of the neuron with the most
    # +1 (or -1) weights, so its V reaches +(# of +1) (or -(# of -1)); that is +-fan_in when
    # the row is all one sign.
    w0 = connection_matrices(weights, arch)[0]
    if w0 is not None:
        pos, neg = (w0 > 0).sum(axis=1), (w0 < 0).sum(axis=1)
        fan = int(np.abs(w0).sum(axis=1).max())
        j = int(pos.argmax())
        add("vmax_layer0", np.where(w0[j] > 0, 255, 0),
            why=f"neuron {j} of layer 0 reaches V = +{int(pos[j])} (fan_in {fan}) at step 0")
        j = int(neg.argmax())
        add("vmin_layer0", np.where(w0[j] < 0, 255, 0),
            why=f"neuron {j} of layer 0 reaches V = -{int(neg[j])} (fan_in {fan}) at step 0")
    add("random_dense", rng.integers(1, 256, n0), why="every pixel > 0 at a random step (max events)")
    # From the test set (labels known): no output spike, ties with different and with equal
    # crossing potentials, the latest decision.
    eq_tie = _equal_v_ties(g_test)
    found = {
        "no_spike_test": (g_test["no_spike"], "test image with no output spike (argmax V(255))"),
        "tie_test": (g_test["tie"] & ~eq_tie, "test image, tie broken by crossing potential"),
        "tie_equal_v_test": (eq_tie, "test image, tie with equal potentials: lowest index wins"),
    }
    for name, (mask, why) in found.items():
        i = _first(mask)
        if i is not None:
            add(name, test_images[i], test_labels[i], f"{why} (test index {i})")
    i = int(np.where(g_test["no_spike"], -1, g_test["step"]).argmax())
    add("latest_decision_test", test_images[i], test_labels[i],
        f"test image with the latest output spike, step {int(g_test['step'][i])} (test index {i})")
    need = {"tie_test", "tie_equal_v_test"} - {c[0] for c in cases}
    for name, img in _search_ties(weights, thetas, test_images, rng, need, arch=arch):
        add(name, img, -1, "searched (perturbed / random) image with a tie")
    if arch is not None:
        for name, img, label, why in conv_cases(weights, thetas, arch,
                                                np.stack([c[1] for c in cases]),
                                                [c[0] for c in cases], test_images, g_test):
            add(name, img, label, why)
    images = np.stack([c[1] for c in cases])
    labels = np.array([c[2] for c in cases], np.int16)
    meta = [{"index": k, "case": c[0], "why": c[3]} for k, c in enumerate(cases)]
    return images, labels, meta


def _search_ties(weights, thetas, test_images, rng, need: set[str], rounds: int = 8,
                 arch=None):
    """Ties the test set lacks: search perturbed test images, then random ones.

    Yields (case name, image) for each of ``need`` found within ``rounds`` rounds.
    """
    need = set(need)
    tries = 0
    while need and tries < rounds:
        tries += 1
        base = test_images[rng.integers(0, len(test_images), 400)].astype(np.int16)
        if tries % 2:
            cand = np.clip(base + rng.integers(-40, 41, base.shape), 0, 255).astype(np.uint8)
        else:
            cand = (rng.integers(0, 256, base.shape) * (rng.random(base.shape) < 0.2)).astype(np.uint8)
        g = run_golden(cand, weights, thetas, arch=arch)
        eq = _equal_v_ties(g)
        for name, mask in (("tie_test", g["tie"] & ~eq), ("tie_equal_v_test", eq)):
            i = _first(mask)
            if name in need and i is not None:
                yield name.replace("_test", "_search"), cand[i]
                need.discard(name)
