"""Runtime-loaded weights: the load stream, its word order, and the loader that writes them.

With ``runtime_weights`` the core is built for a network *shape* (its widths) only; every
weight and threshold arrives on ``i_load`` (docs/core.md, "Runtime-loaded weights"), a
``lib.stream`` of 32-bit words with a ``first`` flag. A load is, in this order:

1. one word per weight layer l: its threshold theta_l (1 .. fan-in + 1);
2. per weight layer l, per input i = 0 .. N_l - 1, the ROM word i of layer l
   (docs/artifacts.md, "ROMs": bit j = 1 when the weight from input i to neuron j is +1) in
   ``ceil(N_l+1 / 32)`` chunks, bits 0..31 first.

``first`` is 1 on the first word and only there: it (re)starts a load at any point. Words
outside a load are dropped. The core takes no image event until a load is complete (its
``loaded`` output is 1), and takes load words only while idle (between images).
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .network import CoreNetwork

__all__ = ["LOAD_BITS", "load_layout", "load_write", "load_words", "WeightLoader"]

LOAD_BITS = 32


def load_layout() -> data.StructLayout:
    return data.StructLayout({"data": unsigned(LOAD_BITS), "first": unsigned(1)})


def _chunks(fan_out: int) -> int:
    return -(-fan_out // LOAD_BITS)


def load_words(net: CoreNetwork) -> list[int]:
    """The ``data`` words of a complete load of ``net`` (``first`` goes with word 0)."""
    out = [net.theta(l) for l in range(net.n_layers)]
    mask = (1 << LOAD_BITS) - 1
    for l in range(net.n_layers):
        for word in net.words[l]:
            out += [(word >> (LOAD_BITS * c)) & mask for c in range(_chunks(net.widths[l + 1]))]
    return out


def load_write(widths) -> wiring.Signature:
    """What the loader tells the layers: write ``row`` as word ``addr`` (row group ``group``
    of layer 0) of layer ``layer``; write ``theta`` as the threshold of ``layer``; ``reload``:
    the load is complete, clear the counters to the new thresholds."""
    n = len(widths) - 1
    return wiring.Signature({
        "layer": Out(range(n)), "addr": Out(range(max(widths[:-1]))),
        "group": Out(range(widths[1])), "row": Out(LOAD_BITS * max(_chunks(w) for w in widths[1:])),
        "write": Out(1),
        "theta": Out(range(max(widths[:-1]) + 2)), "theta_write": Out(1), "reload": Out(1)})


class WeightLoader(wiring.Component):
    """Assembles load words into rows and thresholds and hands them to the layers.

    Parameters
    ----------
    widths : sequence of int
        The network shape.
    groups0 : int
        Layer 0's row groups per input (its memory words per row, one write cycle each).

    Members
    -------
    i_load : In(stream)  data u32, first u1
    idle : In(1)  the core is between images: load words may be taken
    o : Out(load_write)  row and threshold writes
    loaded : Out(1)  a complete load is in place
    """

    def __init__(self, widths, groups0: int):
        self.widths, self.groups0 = list(widths), groups0
        super().__init__({"i_load": In(stream.Signature(load_layout())), "idle": In(1),
                          "o": Out(load_write(widths)), "loaded": Out(1)})

    def elaborate(self, platform):
        m = Module()
        w, o, ld = self.widths, self.o, self.i_load
        n = len(w) - 1
        chunks = Array(C(_chunks(x), range(_chunks(max(w[1:])) + 1)) for x in w[1:])
        fan_in = Array(C(x, range(max(w[:-1]) + 1)) for x in w[:-1])
        chunk = Signal(range(_chunks(max(w[1:]))))
        layer, addr, group, row = (Signal.like(o.layer), Signal.like(o.addr),
                                   Signal.like(o.group), Signal.like(o.row))
        take = ld.valid & ld.ready
        m.d.comb += [o.theta.eq(ld.payload.data), o.layer.eq(layer), o.addr.eq(addr),
                     o.group.eq(group), o.row.eq(row)]

        def restart():
            """A ``first`` word: theta of layer 0, whatever state the loader was in."""
            m.d.comb += [o.layer.eq(0), o.theta_write.eq(1)]
            m.d.sync += [self.loaded.eq(0), layer.eq(1), addr.eq(0), group.eq(0), chunk.eq(0)]
            m.next = "THETAS"

        with m.FSM(init="WAIT"):
            with m.State("WAIT"):                     # no load in progress
                m.d.comb += ld.ready.eq(self.idle)
                with m.If(take & ld.payload.first):
                    restart()
            with m.State("THETAS"):
                m.d.comb += ld.ready.eq(self.idle)
                with m.If(take & ld.payload.first):
                    restart()
                with m.Elif(take):
                    m.d.comb += o.theta_write.eq(1)
                    with m.If(layer == n - 1):
                        m.d.sync += layer.eq(0)
                        m.next = "ROWS"
                    with m.Else():
                        m.d.sync += layer.eq(layer + 1)
            with m.State("ROWS"):
                m.d.comb += ld.ready.eq(self.idle)
                with m.If(take & ld.payload.first):
                    restart()
                with m.Elif(take):
                    m.d.sync += row.word_select(chunk, LOAD_BITS).eq(ld.payload.data)
                    with m.If(chunk == chunks[layer] - 1):
                        m.d.sync += chunk.eq(0)
                        m.next = "WRITE"
                    with m.Else():
                        m.d.sync += chunk.eq(chunk + 1)
            with m.State("WRITE"):                    # one cycle per row group (layer 0)
                m.d.comb += o.write.eq(1)
                with m.If((layer == 0) & (group != self.groups0 - 1)):
                    m.d.sync += group.eq(group + 1)
                with m.Else():
                    m.d.sync += group.eq(0)
                    m.next = "ROWS"
                    with m.If(addr != fan_in[layer] - 1):
                        m.d.sync += addr.eq(addr + 1)
                    with m.Elif(layer != n - 1):
                        m.d.sync += [addr.eq(0), layer.eq(layer + 1)]
                    with m.Else():
                        m.d.comb += o.reload.eq(1)
                        m.d.sync += [addr.eq(0), layer.eq(0), self.loaded.eq(1)]
                        m.next = "WAIT"
        return m
