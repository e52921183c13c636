# amaranth: UnusedElaboratable=no
"""The formal checks of the project: each a named harness, a mode and a depth.

* ``counters_*`` (property 2, hdl/formal/counters.py): the layer-0 counters never overflow;
* ``liveness_*`` (property 3, hdl/formal/liveness.py): a started image always gets a result;
* ``frame_*`` (property 1, hdl/formal/frame.py): the frame receiver returns to idle.

Depths: k-induction (``prove``) needs only a small one; a ``bmc`` depth is chosen to cover the
property's bound (docs/formal.md says why each depth is enough).
"""
from __future__ import annotations

import numpy as np

from ..network import CoreNetwork
from .counters import CounterHarness
from .frame import FrameHarness
from .liveness import LivenessHarness
from .sby import Check

__all__ = ["CHECKS", "tiny_network"]


def tiny_network(widths=(4, 3, 2), thetas=(2, 1), seed: int = 0) -> CoreNetwork:
    """A small random +-1 network (fixed seed)."""
    rng = np.random.default_rng(seed)
    ws = [rng.choice(np.array([-1, 1], np.int8), size=(widths[l + 1], widths[l]))
          for l in range(len(widths) - 1)]
    return CoreNetwork.from_weights(ws, thetas)


def _liveness(widths, thetas, **core_params):
    """A liveness check's BMC depth and harness builder; the depth holds two worst-case
    images back to back (the second starts from the state the first one left)."""
    def build():
        return LivenessHarness(tiny_network(widths, thetas), debug_port=False, **core_params)
    return 2 * build().idle_bound + 4, build


_LIVE_432 = _liveness((4, 3, 2), (2, 1))

CHECKS = [
    # The Arty link: timeout 5,000,000 cycles, by induction; and a short timeout with a cover
    # that the bound is reached (not vacuous).
    Check("frame_idle_arty", "prove", 4, lambda: FrameHarness()),
    Check("frame_idle_arty_weights", "prove", 4, lambda: FrameHarness(weights=True)),
    Check("frame_idle_short", "prove", 4, lambda: FrameHarness(timeout=12, answer_wait=5)),
    Check("frame_idle_short_cover", "cover", 20,
          lambda: FrameHarness(timeout=12, answer_wait=5)),
    Check("counters_regs", "prove", 4,
          lambda: CounterHarness(n=6, fan_in=12)),
    # The register stage and the LUT RAM hide state from induction: BMC past the reachable
    # diameter instead (every group filled: G * fan_in additions, + the register stage).
    Check("counters_regs_rom_reg", "bmc", 8 + 3,
          lambda: CounterHarness(n=4, fan_in=8, registered=True)),
    Check("counters_lutram", "bmc", 2 * 4 + 3,
          lambda: CounterHarness(n=4, fan_in=4, lanes=2, registered=True)),
    Check("liveness_4_3_2", "bmc", *_LIVE_432),
    Check("liveness_4_3_2_cover", "cover", *_LIVE_432),
    Check("liveness_4_3_2_lanes2", "bmc", *_liveness((4, 3, 2), (2, 1), lanes=2)),
    # The Arty core options (6:3 counters, 4 tree levels, ROM register; portable counters).
    Check("liveness_8_4_3_arty", "bmc", *_liveness((8, 4, 3), (3, 2), tree_counter=6,
                                                   tree_levels=4)),
]
