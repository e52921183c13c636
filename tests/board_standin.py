"""A stand-in with BS4NNCore's ports (docs/core.md) and a trivial, predictable behaviour.

It lets the UART/protocol/board plumbing be tested without the real core: every image's
result is a function of its events that ``expected`` computes in Python. It stalls
``i_event`` one cycle in four, so the player's handshake is exercised.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from hdl.protocol import Result


class StandInCore(wiring.Component):
    def __init__(self, *, n_in=784, n_out=10, hidden=600):
        self.n_in, self.n_out = n_in, n_out
        self.event_layout = data.StructLayout({"time": 8, "addr": ceil_log2(n_in), "last": 1})
        self.result_layout = data.StructLayout({
            "label": ceil_log2(n_out), "step": 8, "tie": 1, "no_spike": 1, "cycles": 32,
            "times": data.ArrayLayout(9, n_out)})
        self.spike_layout = data.StructLayout({"layer": 1, "neuron": ceil_log2(max(hidden, n_out)),
                                               "time": 9})
        super().__init__({
            "i_event": In(stream.Signature(self.event_layout)),
            "o_result": Out(stream.Signature(self.result_layout)),
            "o_spike": Out(stream.Signature(self.spike_layout)),
            "full": In(1), "debug": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        phase = Signal(2)
        m.d.sync += phase.eq(phase + 1)
        total = Signal(16)        # sum of addresses
        count = Signal(16)        # events
        first = Signal(8)
        busy = Signal()
        m.d.comb += self.i_event.ready.eq((phase != 2) & ~self.o_result.valid)
        ev = self.i_event.payload
        with m.If(self.i_event.valid & self.i_event.ready):
            new_total = total + ev.addr
            new_count = count + 1
            with m.If(~busy):
                m.d.sync += first.eq(ev.time)
            m.d.sync += [total.eq(new_total), count.eq(new_count), busy.eq(1)]
            with m.If(ev.last):
                r = self.o_result.payload
                m.d.sync += [self.o_result.valid.eq(1),
                             r.label.eq(new_total % self.n_out),
                             r.step.eq(Mux(busy, first, ev.time)),
                             r.tie.eq(new_count[0]), r.no_spike.eq(new_count[1]),
                             r.cycles.eq(new_count)]
                for k in range(self.n_out):
                    m.d.sync += r.times[k].eq((new_total + k)[:9])
                m.d.sync += [total.eq(0), count.eq(0), busy.eq(0)]
        with m.If(self.o_result.valid & self.o_result.ready):
            m.d.sync += self.o_result.valid.eq(0)
        return m


def expected(times, addrs, n_out=10):
    """The stand-in's RESULT for one image's events."""
    total = int(sum(int(a) for a in addrs)) & 0xFFFF
    count = len(addrs)
    return Result(label=total % n_out, step=int(times[0]), tie=bool(count & 1),
                  no_spike=bool(count & 2), cycles=count,
                  times=tuple((total + k) & 0x1FF for k in range(n_out)))
