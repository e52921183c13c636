"""One reply frame (SYNC, cmd, length, payload, checksum) serialised into a byte stream."""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from . import protocol as P

__all__ = ["FrameTx"]


class FrameTx(wiring.Component):
    """Serialises one reply frame (SYNC, cmd, length, payload, checksum) into a byte stream.

    Parameters
    ----------
    max_payload : int
        Largest payload in bytes.

    Members
    -------
    start : In(1)
        Pulse to send a frame; ``cmd``, ``length`` and ``payload`` must hold until ``done``.
    done : Out(1)
        Pulses with the last byte's acceptance.
    o_byte : Out(stream.Signature(8))
    """

    def __init__(self, *, max_payload):
        if not isinstance(max_payload, int) or max_payload < 1:
            raise ValueError(f"max_payload must be a positive integer, not {max_payload!r}")
        self.max_payload = max_payload
        super().__init__({
            "start": In(1), "done": Out(1),
            "cmd": In(8), "length": In(16), "payload": In(8 * max_payload),
            "o_byte": Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        k = Signal(range(self.max_payload + 5))    # byte index within the frame
        total = Signal(8)                          # running sum of cmd, length, payload
        busy = Signal()
        offer = Signal()                           # o_byte holds byte k (else: loading it)
        last = Signal()                            # byte k is the checksum
        byte = Signal(8)

        # Each byte is worked out into a register first, then offered: the selection and the
        # checksum compare never sit on the handshake's path (a UART byte takes 10 bit
        # times, one extra cycle per byte costs nothing).
        nxt = Signal(8)
        with m.Switch(k):
            with m.Case(0):
                m.d.comb += nxt.eq(P.SYNC)
            with m.Case(1):
                m.d.comb += nxt.eq(self.cmd)
            with m.Case(2):
                m.d.comb += nxt.eq(self.length[:8])
            with m.Case(3):
                m.d.comb += nxt.eq(self.length[8:])
            with m.Default():
                m.d.comb += nxt.eq(Mux(k == self.length + 4, -total,
                                       self.payload.word_select((k - 4)[:len(k)], 8)))

        m.d.comb += [self.o_byte.valid.eq(busy & offer), self.o_byte.payload.eq(byte)]
        m.d.sync += self.done.eq(0)
        with m.If(~busy):
            with m.If(self.start):
                m.d.sync += [busy.eq(1), offer.eq(0), k.eq(0), total.eq(0)]
        with m.Elif(~offer):
            m.d.sync += [byte.eq(nxt), last.eq(k == self.length + 4), offer.eq(1)]
        with m.Elif(self.o_byte.ready):
            m.d.sync += [k.eq(k + 1), offer.eq(0), total.eq(total + Mux(k == 0, 0, byte))]
            with m.If(last):
                m.d.sync += [busy.eq(0), self.done.eq(1)]
        return m
