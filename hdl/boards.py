"""The boards ``python -m hdl.build`` knows: their devices, buffer sizes, per-board core
parameters, and the ECP5 PLL top that clocks the board top faster than the board's oscillator."""

from dataclasses import dataclass

from amaranth import ClockDomain, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from .accumulators import DSP_LANES, counter_shape

__all__ = ["Board", "BOARDS", "board_core_params", "list_boards", "ECP5PLLTop"]


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    platform: str              # "module:Class" in amaranth_boards
    family: str                # xc7 | ecp5 | ice40
    device: str
    luts: int
    ffs: int
    brams: int                 # block RAMs of `bram_kind`
    bram_kind: str
    dsps: int
    event_capacity: int
    image_capacity: int
    core_defaults: tuple = ()          # BS4NNCore keyword arguments for this board

    def make_platform(self):
        module, cls = self.platform.split(":")
        mod = __import__(f"amaranth_boards.{module}", fromlist=[cls])
        return getattr(mod, cls)()


# Arty: 1024 buffered events (1024 x 19 bit is one BRAM36; 2048 would take 1.5 and the whole
# design 20.5 BRAM36 with a network whose 600 ROM columns are all live).
BOARDS = {
    "arty": Board("arty", "Digilent Arty A7-35", "arty_a7:ArtyA7_35Platform", "xc7",
                  "XC7A35T", 20_800, 41_600, 50, "BRAM36", 90, 1024, 256,
                  (("tree_counter", 6), ("tree_levels", 4), ("dsp_neurons", "auto"))),
    "ulx3s": Board("ulx3s", "Radiona ULX3S 85F", "ulx3s:ULX3S_85F_Platform", "ecp5",
                   "LFE5U-85F", 83_640, 83_640, 208, "DP16KD", 156, 4096, 256,
                   (("tree_counter", 3), ("tree_levels", 3))),
    "icebreaker": Board("icebreaker", "1BitSquared iCEBreaker", "icebreaker:ICEBreakerPlatform",
                        "ice40", "iCE40UP5K", 5_280, 5_280, 30, "EBR", 8, 512, 16,
                        (("tree_counter", 3), ("tree_levels", None))),
}


def board_core_params(board, art, given: dict) -> dict:
    """The core parameters for ``board``: its defaults, then what the user gave.

    ``dsp_neurons="auto"``: as many first-layer counters as the board's DSP48E1 slices hold
    (4 per slice), when the core runs at full parallelism and a counter fits a 12-bit lane.
    A conv network: no DSP counters, and unless given, the most conv lanes whose estimate
    fits the board (``hdl.conv_fit.conv_board_lanes``).
    """
    params = dict(board.core_defaults)
    params.update(given)
    if "conv" in (getattr(art, "kinds", None) or ()):      # conv core: hdl/conv_fit.py
        params["dsp_neurons"] = 0 if params.get("dsp_neurons") == "auto" else params.get(
            "dsp_neurons", 0)
        if "lanes" not in given:
            from .conv_fit import conv_board_lanes
            params["lanes"] = conv_board_lanes(board, art, params)
    if params.get("dsp_neurons") == "auto":
        n1 = int(art.widths[1])
        width = counter_shape(int(art.widths[0]), int(art.thetas[0])).width
        full = params.get("lanes") in (None, n1)
        params["dsp_neurons"] = (min(board.dsps * DSP_LANES, n1 - n1 % DSP_LANES)
                                 if full and width <= 12 else 0)
    return params


def list_boards():
    """One line per known board."""
    return "\n".join(f"  {b.name:11s} {b.title} ({b.device})" for b in BOARDS.values())


class ECP5PLLTop(Elaboratable):
    """Runs ``top`` in a ``sync`` domain at ``freq`` Hz made by an EHXPLLL from the board clock."""

    F_IN = 25e6      # the ULX3S oscillator

    def __init__(self, top, freq):
        self.top, self.freq = top, freq
        self.fb_div, self.op_div = self.dividers(freq)

    @classmethod
    def dividers(cls, freq):
        """(CLKFB_DIV, CLKOP_DIV) for ``freq``: VCO = freq * CLKOP_DIV in 400..800 MHz."""
        fb_div = round(freq / cls.F_IN)
        if fb_div < 1 or abs(cls.F_IN * fb_div - freq) > 1e3:
            raise ValueError(f"clock {freq / 1e6} MHz is not a multiple of {cls.F_IN / 1e6} MHz")
        divs = [d for d in range(1, 129) if 400e6 <= freq * d <= 800e6]
        if not divs:
            raise ValueError(f"clock {freq / 1e6} MHz is outside the EHXPLLL output range")
        return fb_div, min(divs, key=lambda d: abs(freq * d - 600e6))

    def elaborate(self, platform):
        m = Module()
        m.submodules.clk_buf = clk_buf = io.Buffer("i", platform.request(platform.default_clk,
                                                                          dir="-"))
        clk_in = clk_buf.i
        f_in = platform.default_clk_frequency
        assert f_in == self.F_IN, f_in
        fb_div, op_div = self.fb_div, self.op_div
        m.domains.sync = cd = ClockDomain("sync")
        locked = Signal()
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=str(f_in / 1e6), a_FREQUENCY_PIN_CLKOP=str(self.freq / 1e6),
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=1, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=op_div, p_CLKOP_CPHASE=(op_div - 1) // 2,
            p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=fb_div,
            i_RST=0, i_STDBY=0, i_CLKI=clk_in, o_CLKOP=cd.clk, i_CLKFB=cd.clk,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=locked)
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")
        m.submodules.top = self.top
        return m
