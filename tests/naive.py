"""A deliberately literal, loop-over-time implementation of docs/numerics.md, "Neuron" to
"No-spike fallback", for tests."""
from __future__ import annotations

import numpy as np


def naive_layer(s_in, w, theta):
    """(B, N_in) times -> (spikes, v_cross, v_final) by stepping t = 0..255."""
    B, n_out = s_in.shape[0], w.shape[0]
    spikes = np.full((B, n_out), 256)
    v_cross = np.zeros((B, n_out), int)
    for t in range(256):
        v = (s_in <= t).astype(int) @ w.T.astype(int)          # V(t) after all of step t
        new = (v >= theta) & (spikes == 256)
        spikes[new] = t + 1
        v_cross[new] = v[new]
    return spikes, v_cross, v


def naive_decide(out, v_cross, v_final):
    labels, steps = [], []
    for o, vc, vf in zip(out, v_cross, v_final):
        if o.min() < 256:
            winners = np.flatnonzero(o == o.min())
            best = max(winners, key=lambda k: (vc[k], -k))
            labels.append(best)
            steps.append(o.min() - 1)
        else:
            labels.append(int(np.argmax(vf)))
            steps.append(255)
    return np.array(labels), np.array(steps)
