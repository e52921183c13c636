"""Scoreboard: the hardware's answer for one image against the golden vectors.

Pure numpy, no simulator: the cocotb bench and the tests call it alike.

What is compared (docs/core.md; docs/numerics.md, "Decision" and "Early decisions"):
- the decision: `label`, `step`, `tie`, `no_spike`;
- `times[k]`: the output layer's times a run in this mode reports
  (``contract.numerics.expected_times``: in early mode those up to step + 1, the others 256;
  in full mode all of them);
- the debug spike stream: every spike ``expected_times`` reports for a layer must be there,
  exactly once, at that time (in early mode: those up to ``contract.numerics.early_limit``,
  the spikes that can have influenced the decision; a core that stops at the decision
  need not report later ones). In both modes any spike the core does report, at any time,
  must be the golden one; no neuron twice.

A mismatch names the image, the layer, the neuron, expected and actual spike time and the
first time step at which the two rasters part (min of the two times).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from contract.numerics import SILENT, expected_times

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


def differs(want: np.ndarray, got: np.ndarray, step: int, layer: int, n_layers: int,
            mode: str) -> np.ndarray:
    """Neurons of one layer the hardware got wrong: a spike the mode requires
    (``expected_times``) is missing or at another time, or a reported spike is not golden."""
    must = expected_times(want, step, layer, n_layers, mode)
    return ((must < SILENT) & (got != must)) | ((got < SILENT) & (got != want))


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


def neuron_name(j: int, shape=None) -> str:
    """'neuron j', or 'channel c row y column x' in a (C, H, W) map (C order)."""
    if shape is None or len(shape) != 3:
        return f"neuron {j}"
    c, rest = divmod(int(j), shape[1] * shape[2])
    return f"channel {c} row {rest // shape[2]} column {rest % shape[2]}"


def check_image(name: str, gold: dict, n: int, result: dict, spikes, mode: str,
                debug: bool = True, shapes=None) -> ImageCheck:
    """Compare image n of golden vector set `gold` with the hardware's result and spikes.

    result: the unpacked o_result payload (label, step, tie, no_spike, cycles, times[]).
    spikes: iterable of (layer, neuron, time) from o_spike (ignored when debug is False).
    shapes: each layer's output shape (conv and pooling maps name their neurons by channel,
    row and column).
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
    want_t = expected_times(gl[out], step, out, n_layers, mode)
    got_t = np.asarray(result["times"], dtype=np.int64)
    for k in np.flatnonzero(want_t != got_t):
        w, g = int(want_t[k]), int(got_t[k])
        c._add(f"{name}: o_result times: layer {out} neuron {k} fired at {g}, model says {w} "
               f"(they part at t={min(w, g)})", min(w, g))
    if debug:
        ras = hw_rasters(spikes, [len(x) for x in gl], c)
        c.hw_spikes = ras
        for l in range(n_layers):
            want, got = gl[l], ras[l]
            for j in np.flatnonzero(differs(want, got, step, l, n_layers, mode)):
                w, g = int(want[j]), int(got[j])
                what = "no spike" if g == SILENT else f"fired at {g}"
                where = neuron_name(j, shapes[l] if shapes else None)
                c._add(f"{name}: layer {l} {where} {what}, model says {w} "
                       f"(they part at t={min(w, g)})", min(w, g))
    if c.messages and c.first_part is not None:
        c.messages.insert(0, f"{name}: {len(c.messages)} differences, hardware and model "
                             f"first part at time step {c.first_part}")
    return c
