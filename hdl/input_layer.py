"""The input layer: each event's fan-out row from a block-RAM ROM into +-1 counters.

Event driven (docs/numerics.md, "Neuron"): an event reads its input's row (``G`` words of
``lanes`` bits when ``lanes`` < N1, one group of neurons per cycle) and every counter of
``hdl/accumulators.py`` steps in the direction of its weight bit. With ``events_per_cycle``
K > 1 the ROM has K read ports (a true dual-port block RAM gives two) and a beat's K rows
step the counters together. A closed step is compared
``latency`` cycles after the front end closed it: the ROM read, plus the optional ROM
register.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from contract.numerics import LAST_STEP

from .accumulators import Accumulators
from .front_end import event_reads
from .network import CoreNetwork
from .pipeline import CONTROL, Stages, layer_out
from .weight_loader import load_write

__all__ = ["InputLayer"]


class InputLayer(wiring.Component):
    """Weight layer 0: ROM, counters, compare.

    Parameters
    ----------
    net : CoreNetwork
    lanes : int
        Counters updated per cycle (1 .. N1).
    rom_reg : bool
        A register stage between the ROM and the counters.
    dsp_neurons : int
        Counters in DSP48E1 SIMD lanes (``hdl/accumulators.py``).
    events_per_cycle : int
        Events per beat (K): ROM read ports, rows into the counters per cycle.

    Members
    -------
    ctl : In(CONTROL)
    i : In(event_reads)  the front end's ROM reads and step closes
    o : Out(layer_out(N1))  the compares
    busy : Out(k)  reads and closes in flight (not compared yet)
    load : In(load_write)  (``net.runtime`` only) the weight loader's writes

    Attributes
    ----------
    groups : int
        ROM reads per event, ``ceil(N1 / lanes)``.
    latency : int
        Cycles from a step's close to its compare: 1 (the ROM read) + ``rom_reg``.
    """

    def __init__(self, net: CoreNetwork, *, lanes: int, rom_reg: bool, dsp_neurons: int,
                 events_per_cycle: int = 1):
        n_in, n1 = net.widths[0], net.widths[1]
        self.runtime = net.runtime
        self.params = dict(n=n1, fan_in=n_in, theta=None if net.runtime else net.thetas[0],
                           lanes=lanes, dsp_neurons=dsp_neurons, acc_bits=net.acc_bits[0])
        Accumulators.check(**self.params)
        self.events_per_cycle = events_per_cycle
        self.words, self.n_in, self.lanes = net.words[0], n_in, lanes
        self.groups = -(-n1 // lanes)
        self.rom_reg = bool(rom_reg)
        self.latency = 1 + int(self.rom_reg)
        ports = {"ctl": In(CONTROL), "i": In(event_reads(n_in, self.groups, events_per_cycle)),
                 "o": Out(layer_out(n1)), "busy": Out(2 + int(self.rom_reg))}
        if self.runtime:
            ports["load"] = In(load_write(net.widths))
        super().__init__(ports)

    def rom_words(self) -> list[int]:
        """The ROM as stored: word addr * G + g = neurons g*lanes .. g*lanes+lanes-1."""
        G, lanes = self.groups, self.lanes
        mask = (1 << lanes) - 1
        return [(x >> (g * lanes)) & mask for x in self.words for g in range(G)]

    def elaborate(self, platform):
        m = Module()
        ctl, i, o, G = self.ctl, self.i, self.o, self.groups
        st = Stages(m, ctl.advance)
        m.submodules.rom = rom = memory.Memory(shape=unsigned(self.lanes), depth=self.n_in * G,
                                               init=[] if self.runtime else self.rom_words())
        words = self._read(m, rom)
        theta = self._load(m, rom) if self.runtime else None
        # Stage B: aligned with the ROM's data.
        b_ev = st.reg(1, "b_ev", i.event)
        add = b_ev & ctl.accepting
        if self.events_per_cycle > 1:
            b_more = st.reg(len(i.more_valid), "b_more", i.more_valid)
            add = Cat(add, b_more & add.replicate(len(b_more)))
        b_grp = st.reg(i.group, "b_grp", i.group, reset=False)
        b_close = st.reg(1, "b_close", i.close)
        b_live = st.reg(1, "b_live", i.close & (i.time != LAST_STEP))   # step 255: no compare
        b_t = st.reg(i.time, "b_t", i.time, reset=False)
        m.submodules.acc = acc = Accumulators(**self.params, registered=self.rom_reg,
                                              events_per_cycle=self.events_per_cycle)
        m.d.comb += [acc.data.eq(words), acc.group.eq(b_grp),
                     acc.add.eq(add), acc.en.eq(ctl.advance),
                     acc.clear.eq(ctl.clear | (self.load.reload if self.runtime else 0))]
        if self.runtime:
            m.d.comb += acc.start.eq(theta - 1)
        busy = [b_ev, b_close]
        if self.rom_reg:
            c_close = st.reg(1, "c_close", b_close)
            c_live = st.reg(1, "c_live", b_live)
            c_t = st.reg(i.time, "c_t", b_t, reset=False)
            busy.append(c_close)
        else:
            c_live, c_t = b_live, b_t
        # The compare: every neuron at once, on the counters before this cycle's update.
        fired = Signal(len(o.cross), name="fired")
        st.resets.append(fired)
        m.d.comb += [o.cross.eq(acc.sign & ~fired & c_live.replicate(len(fired))),
                     o.fired.eq(fired | o.cross), o.valid.eq(c_live), o.live.eq(c_live),
                     o.time.eq(c_t), self.busy.eq(Cat(*busy))]
        with m.If(ctl.go):
            m.d.sync += fired.eq(fired | o.cross)
        st.clear(ctl.clear)
        return m

    def _read(self, m, rom) -> Value:
        """One read port per event of a beat, each at its input's row group; their words
        side by side (the next cycle)."""
        i, G = self.i, self.groups
        addrs = [i.addr] + ([i.more_addr[e] for e in range(self.events_per_cycle - 1)]
                            if self.events_per_cycle > 1 else [])
        words = []
        for addr in addrs:
            rd = rom.read_port(domain="sync")
            m.d.comb += [rd.en.eq(self.ctl.advance),
                         rd.addr.eq(addr * G + i.group if G > 1 else addr)]
            words.append(rd.data)
        return Cat(*words)

    def _load(self, m, rom) -> Signal:
        """The loader's writes: row group ``group`` of input ``addr`` into the RAM, and the
        threshold into a register (returned)."""
        ld, G = self.load, self.groups
        wp = rom.write_port()
        theta = Signal(range(self.n_in + 2), name="theta")
        m.d.comb += [wp.addr.eq(ld.addr * G + ld.group if G > 1 else ld.addr),
                     wp.data.eq(Cat(ld.row, C(0, G * self.lanes)).word_select(ld.group, self.lanes)
                                if G > 1 else ld.row[:self.lanes]),
                     wp.en.eq(ld.write & (ld.layer == 0))]
        with m.If(ld.theta_write & (ld.layer == 0)):
            m.d.sync += theta.eq(ld.theta)
        return theta
