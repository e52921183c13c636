"""The first layer's membrane accumulators: one +-1 counter per neuron.

Each neuron j holds ``D_j = theta - 1 - V_j`` (1 <= theta <= fan-in; up to fan-in + 1 when
loaded at run time), so an input whose weight bit is 1 (+1) subtracts one and a 0 bit (-1)
adds one, and "V_j >= theta" is
simply the sign bit of D_j. No multiplier, no XNOR-popcount: the weight bit picks the
direction of a counter. With ``events_per_cycle`` K > 1, K rows arrive per cycle (a beat's
events) and a counter steps by the sum of their K terms, -K..+K (-2..+2 for K = 2).

Three ways to hold the counters, same timing (``sign`` shows the value before this
cycle's update, the update lands at the clock edge):

* ``lanes == N`` (full parallelism), ``dsp_neurons == 0``: one register and adder each;
* ``dsp_neurons > 0`` (Xilinx 7-series only): the first ``dsp_neurons`` counters are the
  four 12-bit SIMD lanes of DSP48E1 slices (``USE_SIMD = "FOUR12"``, ``P <= P + A:B``),
  the weight bits wired straight to A:B, so those counters cost no LUT at all;
* ``lanes < N``: ``G = ceil(N / lanes)`` groups of ``lanes`` counters in a G-deep
  distributed RAM, one group read-modified-written per cycle; the sign bits are mirrored
  in flip-flops so that every neuron can still be compared at once.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Accumulators", "counter_shape", "counter_init", "DSP_LANES"]

DSP_LANES = 4          # DSP48E1 in FOUR12 SIMD mode: four 12-bit adders
DSP_LANE_BITS = 12


def counter_shape(fan_in: int, theta: int | None) -> Shape:
    """Signed shape of theta - 1 - V for every reachable V (|V| <= fan_in); theta None: any
    threshold 1 .. fan_in + 1 (loaded at run time).

    Raises ValueError for a fixed theta outside 1..fan_in
    (``contract.network.validate_network``): only then is the shape signed, its sign bit the
    compare ``V >= theta``.
    """
    if theta is None:
        return Shape.cast(range(-fan_in, 2 * fan_in + 1))
    if not 1 <= theta <= fan_in:
        raise ValueError(f"theta {theta} must be in 1..{fan_in} (the fan-in)")
    return Shape.cast(range(theta - 1 - fan_in, theta - 1 + fan_in + 1))


def counter_init(fan_in: int, theta: int) -> int:
    return theta - 1


class Accumulators(wiring.Component):
    """N first-layer counters updated by one weight row (or one group of it) per cycle.

    Parameters
    ----------
    n : int
        Neurons.
    fan_in : int
        Inputs per neuron (sets the counter width).
    theta : int or None
        The layer's integer threshold; None: loaded at run time, the counters clear to the
        ``start`` input (theta - 1) instead of a constant.
    lanes : int
        Counters updated per cycle (``n`` = all; fewer: ``ceil(n / lanes)`` groups).
    events_per_cycle : int
        Rows (events) per cycle, K: ``data`` holds K words and ``add`` K bits.
    registered : bool
        Register ``data``, ``group`` and ``add`` once (with ``en``) before use: a pipeline
        stage after the weight ROM (the DSP48E1 A/B registers when ``dsp_neurons > 0``).
    dsp_neurons : int
        Counters held in DSP48E1 SIMD lanes (a multiple of 4 that is <= n; needs
        ``lanes == n`` and a counter width <= 12).
    acc_bits : int or None
        The artifacts' signed width of V (manifest ``acc_bits``); checked against the
        counters: ``theta - 1 - V`` takes at most one bit more than V.

    Members
    -------
    data : In(lanes * K)
        The weight bits of the current group, word e (bits ``e * lanes ..``) from event e
        (bit k: neuron ``group * lanes + k``), 1 = +1.
    group : In(range(G))
    add : In(K)
        Bit e: accumulate word e of ``data`` into group ``group`` this cycle.
    en : In(1)
        Clock enable of the whole unit (the core's pipeline advance).
    clear : In(1)
        Back to ``theta - 1`` (takes effect at the clock edge; overrides ``en``).
    start : In(counter shape)  (``theta`` None only) the value ``clear`` loads: theta - 1
    sign : Out(n)
        Bit j = 1: V_j >= theta now (before this cycle's update).

    Raises
    ------
    ValueError
        Bad ``lanes``, ``dsp_neurons`` or ``acc_bits``.
    """

    def __init__(self, *, n: int, fan_in: int, theta: int | None, lanes: int,
                 events_per_cycle: int = 1, registered: bool = False, dsp_neurons: int = 0,
                 acc_bits: int | None = None):
        self.shape = self.check(n=n, fan_in=fan_in, theta=theta, lanes=lanes,
                                dsp_neurons=dsp_neurons, acc_bits=acc_bits)
        self.n, self.lanes, self.registered = n, lanes, bool(registered)
        self.events_per_cycle = K = events_per_cycle
        self.groups = -(-n // lanes)
        self.runtime = theta is None
        self.init = 0 if self.runtime else counter_init(fan_in, theta)
        self.dsp_neurons = dsp_neurons
        ports = {"data": In(lanes * K), "group": In(range(self.groups)), "add": In(K),
                 "en": In(1), "clear": In(1), "sign": Out(n)}
        if self.runtime:
            ports["start"] = In(self.shape)
        super().__init__(ports)

    @property
    def clear_value(self):
        """What ``clear`` loads: theta - 1 (a constant, or the ``start`` input)."""
        return self.start if self.runtime else C(self.init, self.shape)

    @staticmethod
    def check(*, n: int, fan_in: int, theta: int | None, lanes: int, dsp_neurons: int,
              acc_bits: int | None = None) -> Shape:
        """Validate the parameters (ValueError naming the bad one); returns the counter shape."""
        if not isinstance(lanes, int) or not 1 <= lanes <= n:
            raise ValueError(f"lanes must be an integer in 1..{n}, got {lanes!r}")
        shape = counter_shape(fan_in, theta)
        if acc_bits is not None and not (fan_in < 1 << (acc_bits - 1)
                                         and shape.width <= acc_bits + 1):
            raise ValueError(f"acc_bits {acc_bits} cannot hold V for fan-in {fan_in} (the "
                             f"{shape.width}-bit counters hold theta - 1 - V: V needs "
                             f"{shape.width - 1} bits or more)")
        if not isinstance(dsp_neurons, int) or isinstance(dsp_neurons, bool) or dsp_neurons < 0 \
                or dsp_neurons % DSP_LANES or dsp_neurons > n:
            raise ValueError(f"dsp_neurons must be a multiple of {DSP_LANES} in 0..{n}, "
                             f"got {dsp_neurons!r}")
        if dsp_neurons and theta is None:
            raise ValueError("dsp_neurons needs the threshold built in (not runtime_weights)")
        if dsp_neurons and lanes != n:
            raise ValueError("dsp_neurons needs full parallelism (lanes == n)")
        if dsp_neurons and shape.width > DSP_LANE_BITS:
            raise ValueError(f"counters of {shape.width} bits do not fit a "
                             f"{DSP_LANE_BITS}-bit DSP48E1 SIMD lane")
        return shape

    def _step(self, value, bit):
        """value + (bit ? -1 : +1), written so the operand is the weight bit itself."""
        w = len(value)
        return (value + Cat(C(1, 1), bit.replicate(w - 1)).as_signed())[:w].as_signed()

    def _delta(self, data, add, k: int) -> Value:
        """Lane k's step over the K rows: the sum of (bit ? -1 : +1) over the words e with
        ``add[e]``, in -K..+K, as (rows added) - 2 (their +1 bits) (Yosys maps that form to
        about one LUT per counter bit, a sum of per-row terms to two)."""
        K = self.events_per_cycle
        rows = sum(add[e] for e in range(K))
        plus = sum(data[e * self.lanes + k] & add[e] for e in range(K))
        return (rows - (plus << 1)).as_signed()

    def _any(self, add) -> Value:
        """Some row is accumulated this cycle."""
        return add if self.events_per_cycle == 1 else add.any()

    def _update(self, value, data, add, k: int) -> Value:
        """``value`` after this cycle's rows (lane k; ``add`` nonzero)."""
        if self.events_per_cycle == 1:
            return self._step(value, data[k])
        return (value + self._delta(data, add, k))[:len(value)].as_signed()

    def elaborate(self, platform):
        m = Module()
        data, group, add = self.data, self.group, self.add
        if self.registered:
            data, group, add = (Signal.like(self.data), Signal.like(self.group),
                                Signal(len(self.add)))
            with m.If(self.en):
                m.d.sync += [data.eq(self.data), group.eq(self.group), add.eq(self.add)]
            with m.If(self.clear):
                m.d.sync += add.eq(0)
        if self.groups == 1:
            self._registers(m, data, add)
        else:
            self._lutram(m, data, group, add)
        return m

    # ------------------------------------------------------------------ full parallelism
    def _registers(self, m, data, add):
        first = self.dsp_neurons
        for j in range(first, self.n):
            acc = Signal(self.shape, init=self.init, name=f"acc{j}")
            with m.If(self.clear):
                m.d.sync += acc.eq(self.clear_value)
            with m.Elif(self.en & self._any(add)):
                m.d.sync += acc.eq(self._update(acc, data, add, j))
            m.d.comb += self.sign[j].eq(acc[-1])
        for d in range(first // DSP_LANES):
            self._dsp(m, d, add)

    def _dsp(self, m, d: int, add):
        """DSP48E1 number d: neurons 4d .. 4d+3 in its four 12-bit lanes. The raw weight
        bits go to A:B (registered there when ``registered``), ``add`` is already aligned
        with the P stage. With K > 1 rows A:B takes each lane's -K..+K step (from the
        unregistered ``data`` and ``add``, aligned with each other)."""
        lane_bits = []
        for k in range(DSP_LANES):
            j = DSP_LANES * d + k
            if self.events_per_cycle == 1:
                w = self.data[j]
                lane_bits.append(Cat(C(1, 1), w.replicate(DSP_LANE_BITS - 1)))
            else:
                step = Signal(signed(DSP_LANE_BITS), name=f"dsp{d}_step{k}")
                m.d.comb += step.eq(self._delta(self.data, self.add, j))
                lane_bits.append(step)
        ab = Cat(*lane_bits)                                  # 48 bits: A = ab[18:], B = ab[:18]
        init = sum((self.init & 0xFFF) << (DSP_LANE_BITS * k) for k in range(DSP_LANES))
        p = Signal(48, name=f"dsp{d}_p")
        reg = int(self.registered)
        # clear: P <= C (theta - 1 in every lane); run: P <= P + A:B.
        opmode = Mux(self.clear, C(0b011_00_00, 7), C(0b010_00_11, 7))
        m.submodules[f"dsp{d}"] = Instance(
            "DSP48E1",
            p_USE_SIMD="FOUR12", p_USE_MULT="NONE", p_USE_DPORT="FALSE",
            p_AREG=reg, p_BREG=reg, p_ACASCREG=reg, p_BCASCREG=reg, p_CREG=0, p_MREG=0,
            p_PREG=1, p_DREG=0, p_ADREG=0, p_OPMODEREG=0, p_ALUMODEREG=0, p_INMODEREG=0,
            p_CARRYINREG=0, p_CARRYINSELREG=0,
            i_CLK=ClockSignal(), i_A=ab[18:], i_B=ab[:18], i_C=C(init, 48), i_D=C(0, 25),
            i_OPMODE=opmode, i_ALUMODE=C(0, 4), i_INMODE=C(0, 5), i_CARRYIN=C(0, 1),
            i_CARRYINSEL=C(0, 3),
            i_CEA1=C(0, 1), i_CEA2=self.en, i_CEB1=C(0, 1), i_CEB2=self.en,
            i_CEC=C(0, 1), i_CED=C(0, 1), i_CEM=C(0, 1), i_CEAD=C(0, 1),
            i_CEP=self.clear | (self.en & self._any(add)), i_CEALUMODE=C(0, 1),
            i_CECTRL=C(0, 1), i_CECARRYIN=C(0, 1), i_CEINMODE=C(0, 1),
            i_RSTA=C(0, 1), i_RSTB=C(0, 1), i_RSTC=C(0, 1), i_RSTD=C(0, 1), i_RSTM=C(0, 1),
            i_RSTP=C(0, 1), i_RSTALLCARRYIN=C(0, 1), i_RSTALUMODE=C(0, 1),
            i_RSTCTRL=C(0, 1), i_RSTINMODE=C(0, 1),
            i_ACIN=C(0, 30), i_BCIN=C(0, 18), i_PCIN=C(0, 48), i_CARRYCASCIN=C(0, 1),
            i_MULTSIGNIN=C(0, 1),
            o_P=p)
        for k in range(DSP_LANES):
            m.d.comb += self.sign[DSP_LANES * d + k].eq(p[DSP_LANE_BITS * (k + 1) - 1])

    # ------------------------------------------------------------------ lanes < n
    def _lutram(self, m, data, group, add):
        """G-deep distributed RAM of `lanes` counters per word, sign bits mirrored in FFs."""
        G, lanes, w0 = self.groups, self.lanes, self.shape.width
        init0 = self.init & ((1 << w0) - 1)
        m.submodules.mem = mem = memory.Memory(
            shape=unsigned(lanes * w0), depth=G,
            init=[sum(init0 << (k * w0) for k in range(lanes))] * G)
        rp = mem.read_port(domain="comb")
        wp = mem.write_port()
        written = Signal(G, name="written")          # groups holding this image's values
        sign = Signal(self.n, init=(1 << self.n) - 1 if self.init < 0 else 0, name="sign_ff")
        upd = self.en & self._any(add) & ~self.clear
        m.d.comb += [rp.addr.eq(group), wp.addr.eq(group), wp.en.eq(upd), self.sign.eq(sign)]
        fresh = ~written.bit_select(group, 1)
        for k in range(lanes):
            old = Mux(fresh, self.clear_value, rp.data[k * w0:(k + 1) * w0].as_signed())
            new = Signal(self.shape, name=f"lane{k}")
            m.d.comb += [new.eq(self._update(old, data, add, k)),
                         wp.data[k * w0:(k + 1) * w0].eq(new)]
            for g in range(G):
                j = g * lanes + k
                if j < self.n:
                    with m.If(upd & (group == g)):
                        m.d.sync += sign[j].eq(new[-1])
        with m.If(upd):
            m.d.sync += written.bit_select(group, 1).eq(1)
        with m.If(self.clear):
            m.d.sync += [written.eq(0), sign.eq(sign.init)]
