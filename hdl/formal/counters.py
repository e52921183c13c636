"""Property 2: the layer-0 counters never overflow, for any event sequence of the contract.

The harness drives ``hdl/accumulators.py`` ``Accumulators`` with free inputs (any weight
bits, any ``add``/``en``/``clear`` pattern) for every threshold 1..fan-in at once, and keeps
a shadow potential ``V_j`` per neuron in a wide integer. The one assumption is the event
contract: each input address occurs at most once per image, so a group of counters takes at
most ``fan_in`` additions between two clears. Asserted every cycle:

* register counters: counter ``j`` == ``theta - 1 - V_j`` exactly (no wrap), ``|V_j|`` <= the
  additions so far <= fan-in, and ``sign_j == (V_j >= theta)``;
* LUT-RAM counters (``lanes < n``): the value read for the addressed group equals
  ``theta - 1 - V``, and every ``sign_j == (V_j >= theta)``.
"""
from __future__ import annotations

from amaranth import *
from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume

from ..accumulators import Accumulators

__all__ = ["CounterHarness"]


class _Observed(Accumulators):
    """Accumulators that remember the counter value each ``_step`` is applied to."""

    def __init__(self, **params):
        super().__init__(**params)
        self.observed = []

    def _step(self, value, bit):
        self.observed.append(value)
        return super()._step(value, bit)


class CounterHarness(Elaboratable):
    """Counters of one layer-0 shape, one ``Accumulators`` per threshold 1..fan_in.

    Parameters
    ----------
    n, fan_in : int
        Neurons and inputs.
    lanes : int
        Counters per group (``n``: registers; fewer: a LUT-RAM of ``ceil(n / lanes)`` groups).
    registered : bool
        The ROM register stage in front of the counters (``rom_reg``).
    contract : bool
        Assume the event contract (False: the counters must be seen to overflow, which
        shows that the assertions can fail).
    """

    def __init__(self, *, n: int, fan_in: int, lanes: int | None = None,
                 registered: bool = False, contract: bool = True):
        self.n, self.fan_in, self.contract = n, fan_in, contract
        self.lanes = n if lanes is None else lanes
        self.registered = registered
        self.groups = -(-n // self.lanes)

    def elaborate(self, platform):
        m = Module()
        n, fan_in, lanes, G = self.n, self.fan_in, self.lanes, self.groups
        data, group = Signal(lanes), Signal(range(G))
        add, en, clear = Signal(), Signal(), Signal()
        m.d.comb += [data.eq(AnySeq(lanes)), group.eq(AnySeq(len(group))), add.eq(AnySeq(1)),
                     en.eq(AnySeq(1)), clear.eq(AnySeq(1)), Assume(~ResetSignal())]
        # What the counters apply this cycle (after the optional register stage).
        a_data, a_group, a_add = data, group, add
        if self.registered:
            a_data, a_group, a_add = Signal(lanes), Signal(range(G)), Signal()
            with m.If(en):
                m.d.sync += [a_data.eq(data), a_group.eq(group), a_add.eq(add)]
            with m.If(clear):
                m.d.sync += a_add.eq(0)
        # The contract: at most fan_in additions per group between clears (accepted ones
        # counted when offered, so a registered one in flight counts too).
        cap = fan_in if self.contract else fan_in + 2
        taken = [Signal(range(cap + 1), name=f"taken{g}") for g in range(G)]
        for g in range(G):
            offer = en & add & (group == g)
            m.d.comb += Assume(~offer | clear | (taken[g] < cap))
            with m.If(clear):
                m.d.sync += taken[g].eq(0)
            with m.Elif(offer):
                m.d.sync += taken[g].eq(taken[g] + 1)
        vbits = len(Const(cap)) + 2
        v = [Signal(signed(vbits), name=f"v{j}") for j in range(n)]
        for j in range(n):
            g, k = divmod(j, lanes)
            with m.If(clear):
                m.d.sync += v[j].eq(0)
            with m.Elif(en & a_add & (a_group == g)):
                m.d.sync += v[j].eq(Mux(a_data[k], v[j] + 1, v[j] - 1))
            in_flight = (a_add & (a_group == g)) if self.registered else C(0, 1)
            m.d.comb += [Assert(v[j] <= taken[g] - in_flight),
                         Assert(-v[j] <= taken[g] - in_flight)]
        for theta in range(1, fan_in + 1):
            acc = _Observed(n=n, fan_in=fan_in, theta=theta, lanes=lanes,
                            registered=self.registered)
            m.submodules[f"theta{theta}"] = acc
            m.d.comb += [acc.data.eq(data), acc.group.eq(group), acc.add.eq(add),
                         acc.en.eq(en), acc.clear.eq(clear)]
            self._assert_counters(m, acc, theta, v, a_group)
        return m

    def _assert_counters(self, m, acc, theta, v, a_group):
        m.d.comb += [Assert(acc.sign[j] == (v[j] >= theta)) for j in range(self.n)]
        # acc.observed is filled when acc is elaborated: defer to a submodule.
        m.submodules[f"check{theta}"] = _CounterValues(acc, theta, v, a_group, self.lanes)


class _CounterValues(Elaboratable):
    """The exact-value assertions, elaborated after the counters they look at."""

    def __init__(self, acc, theta, v, a_group, lanes):
        self.acc, self.theta, self.v, self.a_group, self.lanes = acc, theta, v, a_group, lanes

    def elaborate(self, platform):
        m = Module()
        observed, theta, v = self.acc.observed, self.theta, self.v
        if self.acc.groups == 1:
            for j, value in enumerate(observed):           # counter j's register
                m.d.comb += Assert(value == theta - 1 - v[j])
        else:
            for k, value in enumerate(observed):           # lane k of the addressed group
                for g in range(self.acc.groups):
                    j = g * self.lanes + k
                    if j < len(v):
                        with m.If(self.a_group == g):
                            m.d.comb += Assert(value == theta - 1 - v[j])
        return m
