"""Scoreboard: the hardware's answer for one image against the golden vectors.

Pure numpy, no simulator: the cocotb bench and the tests call it alike.

What is compared (docs/core.md, SPEC section 4):
- the decision: `label`, `step`, `tie`, `no_spike`;
- `times[k]`: in early mode the golden output time if it is <= step + 1, else 256; in full
  mode the golden output time;
- the debug spike stream: in full mode every neuron whose golden time is < 256 must have
  exactly one spike at that time. In early mode the same holds for the spikes that can have
  influenced the decision (SPEC 4: "spike times of neurons after that step are then not
  computed"): a spike at time t in weight layer l can change an output crossing at step
  t + (L - 1 - l) at the earliest, so layer l's spikes with time <= step - (L - 1 - l) + 1
  must be there (L weight layers): the winners (time step + 1) in the output layer, time <= step
  in the last hidden layer, and so on. A core that stops at the decision need not report
  later ones. In both modes any spike the core does report, at any time, must be the
  golden one; no neuron twice.

A mismatch names the image, the layer, the neuron, expected and actual spike time and the
first time step at which the two rasters part (min of the two times).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SILENT = 256
MODES = ("early", "full")


@dataclass
class ImageCheck:
    name: str                                   # e.g. "vectors#17"
    messages: list[str] = field(default_factory=list)
    first_part: int | None = None               # first step at which hardware and model part
    hw_spikes: list[np.ndarray] | None = None   # per layer, from the debug stream (256 = none)

    @property
    def ok(self) -> bool:
        return not self.messages

    def _add(self, msg: str, t: int | None):
        self.messages.append(msg)
        if t is not None:
            self.first_part = t if self.first_part is None else min(self.first_part, t)


def early_limit(step: int, layer: int, n_layers: int) -> int:
    """Latest spike time of weight layer `layer` that can influence a decision at `step`."""
    return step + 1 - (n_layers - 1 - layer)


def expected_times(out_spikes: np.ndarray, step: int, mode: str) -> np.ndarray:
    """What `o_result.times` must hold for one image."""
    o = np.asarray(out_spikes, dtype=np.int64)
    return o.copy() if mode == "full" else np.where(o <= step + 1, o, SILENT)


def hw_rasters(spikes, widths_out: list[int], check: ImageCheck) -> list[np.ndarray]:
    """Debug spike records [(layer, neuron, time), ...] -> per-layer time arrays; flags junk."""
    ras = [np.full(w, SILENT, dtype=np.int64) for w in widths_out]
    for layer, neuron, t in spikes:
        if layer >= len(ras) or neuron >= len(ras[layer]):
            check._add(f"{check.name}: debug spike from nonexistent layer {layer} neuron {neuron} "
                       f"at t={t}", None)
        elif ras[layer][neuron] != SILENT:
            check._add(f"{check.name}: layer {layer} neuron {neuron} spiked twice, at "
                       f"{ras[layer][neuron]} and {t}", min(int(ras[layer][neuron]), t))
        elif t >= SILENT:
            check._add(f"{check.name}: layer {layer} neuron {neuron} reported a spike at t={t} "
                       f"(>= 256 is silent)", None)
            ras[layer][neuron] = t
        else:
            ras[layer][neuron] = t
    return ras


def check_image(name: str, gold: dict, n: int, result: dict, spikes, mode: str,
                debug: bool = True) -> ImageCheck:
    """Compare image n of golden vector set `gold` with the hardware's result and spikes.

    result: the unpacked o_result payload (label, step, tie, no_spike, cycles, times[]).
    spikes: iterable of (layer, neuron, time) from o_spike (ignored when debug is False).
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {MODES}")
    c = ImageCheck(name)
    n_layers = sum(1 for k in gold if k.startswith("spikes_"))
    gl = [np.asarray(gold[f"spikes_{l}"][n], dtype=np.int64) for l in range(n_layers)]
    step = int(gold["step"][n])
    for key in ("label", "step", "tie", "no_spike"):
        want, got = int(gold[key][n]), int(result[key])
        if want != got:
            c._add(f"{name}: decision {key} is {got}, model says {want}",
                   min(step, got) if key == "step" else None)
    out = len(gl) - 1
    want_t = expected_times(gl[out], step, mode)
    got_t = np.asarray(result["times"], dtype=np.int64)
    for k in np.flatnonzero(want_t != got_t):
        w, g = int(want_t[k]), int(got_t[k])
        c._add(f"{name}: o_result times: layer {out} neuron {k} fired at {g}, model says {w} "
               f"(they part at t={min(w, g)})", min(w, g))
    if debug:
        ras = hw_rasters(spikes, [len(x) for x in gl], c)
        c.hw_spikes = ras
        for l in range(n_layers):
            lim = SILENT - 1 if mode == "full" else early_limit(step, l, n_layers)
            want, got = gl[l], ras[l]
            bad = (want != got) & ((want <= lim) | (got < SILENT))
            for j in np.flatnonzero(bad):
                w, g = int(want[j]), int(got[j])
                what = "no spike" if g == SILENT else f"fired at {g}"
                c._add(f"{name}: layer {l} neuron {j} {what}, model says {w} "
                       f"(they part at t={min(w, g)})", min(w, g))
    if c.messages and c.first_part is not None:
        c.messages.insert(0, f"{name}: {len(c.messages)} differences, hardware and model "
                             f"first part at time step {c.first_part}")
    return c
