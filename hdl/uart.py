"""8N1 UART receiver and transmitter with byte streams.

One start bit (0), eight data bits LSB first, one stop bit (1); the line idles at 1. The bit
period is ``divisor`` clock cycles, computed from the clock frequency and the baud rate with
:func:`uart_divisor`. Simulation may pass a small divisor (e.g. 4) to keep tests fast.
"""

from amaranth import C, Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["uart_divisor", "UARTRx", "UARTTx"]


def uart_divisor(clk_freq, baud):
    """Clock cycles per bit for ``baud`` at ``clk_freq`` Hz (rounded, error <= 2 % checked).

    Raises
    ------
    ValueError
        If the rounded divisor is below 4 or the baud error exceeds 2 %.
    """
    if clk_freq <= 0 or baud <= 0:
        raise ValueError(f"clock {clk_freq!r} Hz and baud {baud!r} must be positive")
    divisor = round(clk_freq / baud)
    if divisor < 4:
        raise ValueError(f"baud {baud} is too fast for a {clk_freq} Hz clock (divisor {divisor} < 4)")
    error = abs(clk_freq / divisor - baud) / baud
    if error > 0.02:
        raise ValueError(f"baud {baud} at {clk_freq} Hz has {error:.1%} error (> 2 %)")
    return divisor


def _check_divisor(divisor):
    if not isinstance(divisor, int) or divisor < 4:
        raise ValueError(f"UART divisor must be an integer >= 4, not {divisor!r}")


class UARTRx(wiring.Component):
    """8N1 receiver.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (>= 4).

    Members
    -------
    rx : In(1)
        The serial line (already synchronised or not: a 2-flop synchroniser is inside).
    o_data : Out(stream.Signature(8))
        Received bytes. There is no back-pressure on a serial line: a byte not taken before
        the next one completes is dropped and ``overrun`` pulses.
    frame_error : Out(1)
        Pulses when a stop bit read as 0 (the byte is dropped).
    overrun : Out(1)
        Pulses when a received byte overwrote one not yet taken.
    """

    rx: In(1, init=1)
    o_data: Out(stream.Signature(8))
    frame_error: Out(1)
    overrun: Out(1)

    def __init__(self, *, divisor):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        div = self.divisor

        rx_meta = Signal(init=1)
        rx_sync = Signal(init=1)
        m.d.sync += [rx_meta.eq(self.rx), rx_sync.eq(rx_meta)]

        timer = Signal(range(div * 3 // 2 + 1))
        bit = Signal(range(9))
        shreg = Signal(8)

        with m.If(self.o_data.valid & self.o_data.ready):
            m.d.sync += self.o_data.valid.eq(0)
        m.d.sync += [self.frame_error.eq(0), self.overrun.eq(0)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx_sync):
                    # sample in the middle of data bit 0: 1.5 bit periods after the edge
                    m.d.sync += [timer.eq(div + div // 2 - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [shreg.eq(Cat(shreg[1:], rx_sync)),
                                 timer.eq(div - 1), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    with m.If(rx_sync):
                        m.d.sync += [self.o_data.payload.eq(shreg), self.o_data.valid.eq(1)]
                        with m.If(self.o_data.valid & ~self.o_data.ready):
                            m.d.sync += self.overrun.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += self.frame_error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):
                # wait for the line to return high before looking for a start bit
                with m.If(rx_sync):
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """8N1 transmitter.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (>= 4).

    Members
    -------
    i_data : In(stream.Signature(8))
        Bytes to send; ``ready`` is high while the transmitter is idle.
    tx : Out(1)
        The serial line (idles at 1).
    """

    i_data: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, *, divisor):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        div = self.divisor

        timer = Signal(range(div))
        shreg = Signal(10, init=0x3FF)  # stop, data[7:0], start; shifted out LSB first
        bits = Signal(range(11))

        m.d.comb += self.i_data.ready.eq(bits == 0)
        m.d.comb += self.tx.eq(shreg[0])

        with m.If(bits == 0):
            with m.If(self.i_data.valid):
                m.d.sync += [shreg.eq(Cat(C(0, 1), self.i_data.payload, C(1, 1))),
                             bits.eq(10), timer.eq(div - 1)]
        with m.Else():
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [shreg.eq(Cat(shreg[1:], C(1, 1))), bits.eq(bits - 1),
                             timer.eq(div - 1)]
        return m
