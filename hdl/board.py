"""Board top: the BS4NN core behind a UART and the framed protocol of ``hdl/protocol.py``.

``SerialLink`` is the platform-free part (UART pins in, LEDs out, a core inside) that the
simulation tests drive; ``BoardTop`` requests the board's clock, UART and LEDs and wraps it.

One image travels: UART rx -> frame parser -> event buffer (on-chip memory, whole frame held
until its checksum is good) -> core ``i_event`` at one event per cycle -> ``o_result`` ->
result buffer -> RESULT frames -> UART tx. A batch (LOAD frames, then BATCH) plays every
buffered image back to back, so its cycle count measures the core, not the UART.
"""

from amaranth import C, Cat, Elaboratable, Module, Mux, Shape, Signal, Value
from amaranth.build import ResourceError
from amaranth.lib import io, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from . import protocol as P
from .skid import SkidBuffer
from .uart import UARTRx, UARTTx, uart_divisor

__all__ = ["FrameTx", "SerialLink", "BoardTop", "DEFAULT_BAUD"]

DEFAULT_BAUD = 115_200


def _zext(value, width):
    """``value`` zero-extended (or truncated) to ``width`` bits."""
    value = Value.cast(value)
    if len(value) >= width:
        return value[:width]
    return Cat(value, C(0, width - len(value)))


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


class SerialLink(wiring.Component):
    """The core, its event and result buffers, the protocol FSM and the UART.

    Parameters
    ----------
    core : wiring.Component
        A ``BS4NNCore`` (or anything with its ports, see docs/core.md); added as a submodule.
    divisor : int
        UART clock cycles per bit.
    n_in : int
        Network inputs (reported by INFO).
    event_capacity : int
        Events the on-chip buffer holds (all images of a batch together).
    image_capacity : int
        Images a batch may hold (depth of the result buffer).
    clk_freq : int
        Clock frequency in Hz, reported by INFO (0: unknown, e.g. in simulation).
    timeout : int or None
        Cycles of silence after which a half-received frame is dropped; default 64 byte times.

    Members
    -------
    rx : In(1)
    tx : Out(1)
    leds : Out(8)
        The last result's label.
    """

    def __init__(self, core, *, divisor, n_in, event_capacity=4096, image_capacity=256,
                 clk_freq=0, timeout=None):
        for name, value, lo, hi in (("event_capacity", event_capacity, 2, 65535),
                                    ("image_capacity", image_capacity, 1, 65535),
                                    ("n_in", n_in, 1, 65535)):
            if not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"{name} must be an integer in {lo}..{hi}, not {value!r}")
        self.core = core
        self.divisor = divisor
        self.n_in = n_in
        self.clk_freq = int(clk_freq)
        self.event_capacity = event_capacity
        self.image_capacity = image_capacity
        self.timeout = timeout if timeout is not None else 64 * 10 * divisor
        self.event_layout = core.i_event.payload.shape()
        self.result_layout = core.o_result.payload.shape()
        self.n_out = self.result_layout["times"].shape.length
        self.addr_bits = Shape.cast(self.event_layout["addr"].shape).width
        self.result_bytes = P.result_payload_bytes(self.n_out)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(8)})

    def _result_payload(self, r):
        """The RESULT payload bytes (protocol order) of a result view ``r``."""
        fields = [_zext(r.label, 8), _zext(r.step, 8), Cat(r.tie, r.no_spike, C(0, 6)),
                  _zext(r.cycles, 32)]
        fields += [_zext(r.times[k], 16) for k in range(self.n_out)]
        return Cat(*fields)

    def elaborate(self, platform):
        m = Module()
        core = self.core
        m.submodules.core = core
        m.submodules.uart_rx = urx = UARTRx(divisor=self.divisor)
        m.submodules.uart_tx = utx = UARTTx(divisor=self.divisor)
        max_payload = max(self.result_bytes, 11)
        m.submodules.frame_tx = ftx = FrameTx(max_payload=max_payload)
        wiring.connect(m, ftx.o_byte, utx.i_data)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx),
                     core.full.eq(0), core.debug.eq(0)]
        if hasattr(core, "o_spike"):
            m.d.comb += core.o_spike.ready.eq(1)

        ev_cap, img_cap = self.event_capacity, self.image_capacity
        m.submodules.events = events = Memory(shape=self.event_layout, depth=ev_cap, init=[])
        ev_w = events.write_port()
        ev_r = events.read_port()
        m.submodules.results = results = Memory(shape=self.result_layout, depth=img_cap, init=[])
        res_w = results.write_port()
        res_r = results.read_port()

        # ---- state shared by the parser and the player ----
        batch_end = Signal(range(ev_cap + 1))      # events of the loaded batch: [0, batch_end)
        batch_images = Signal(range(img_cap + 1))
        wr_ptr = Signal(range(ev_cap + 1))
        cmd = Signal(8)
        length = Signal(16)
        remaining = Signal(16)
        total = Signal(8)
        rec = Signal(range(3))                     # byte position within an event record
        ev_time = Signal(8)
        ev_addr_lo = Signal(8)
        overflow = Signal()
        frame_images = Signal(16)
        error = Signal(8)
        silence = Signal(range(self.timeout + 1))

        stale = silence == self.timeout
        byte = urx.o_data.payload
        got = Signal()
        m.d.comb += [urx.o_data.ready.eq(1), got.eq(urx.o_data.valid)]

        is_events = (cmd == P.CMD_RUN) | (cmd == P.CMD_LOAD)
        known = is_events | (cmd == P.CMD_BATCH) | (cmd == P.CMD_CLEAR) | (cmd == P.CMD_INFO)

        # ---- player ----
        play_end = Signal(range(ev_cap + 1))
        rd_ptr = Signal(range(ev_cap + 1))
        rd_next = Signal(range(ev_cap + 2))         # rd_ptr + 1, kept in a register
        more = Signal()                             # rd_ptr != play_end, kept in a register
        rd_addr = Signal(range(ev_cap + 1))
        n_expected = Signal(range(img_cap + 1))
        n_results = Signal(range(img_cap + 1))
        batch_mode = Signal()
        results_done = Signal()
        counting = Signal()
        cycles = Signal(32)
        total_cycles = Signal(32)
        send_idx = Signal(range(img_cap + 1))
        send_more = Signal()                       # results left after send_idx (a register)
        res_q = Signal(self.result_layout)         # the result being sent, registered

        # The event memory's output goes through a register stage to the core (a block RAM's
        # clock-to-output is too slow to reach the core's ROM address in the same cycle).
        m.submodules.ev_reg = ev_reg = SkidBuffer(self.event_layout)
        wiring.connect(m, ev_reg.o, core.i_event)
        m.d.comb += [ev_r.addr.eq(rd_addr), rd_addr.eq(rd_ptr),
                     ev_reg.i.payload.eq(ev_r.data)]
        fire = ev_reg.i.valid & ev_reg.i.ready
        m.d.comb += [res_w.addr.eq(n_results), res_w.data.eq(core.o_result.payload),
                     res_r.addr.eq(send_idx)]
        with m.If(counting):
            m.d.sync += cycles.eq(cycles + 1)

        # ---- reply registers ----
        rep_payload = Signal(8 * max_payload)
        m.d.comb += [ftx.payload.eq(rep_payload)]
        rep_cmd = Signal(8)
        rep_len = Signal(16)
        m.d.comb += [ftx.cmd.eq(rep_cmd), ftx.length.eq(rep_len)]
        m.d.sync += ftx.start.eq(0)

        def reply(code, payload, nbytes):
            m.d.sync += [rep_cmd.eq(code), rep_len.eq(nbytes), rep_payload.eq(payload),
                         ftx.start.eq(1)]

        label = Signal(8)
        m.d.comb += self.leds.eq(label)

        with m.FSM():
            with m.State("SYNC"):
                with m.If(got & (byte == P.SYNC)):
                    m.next = "CMD"
            with m.State("CMD"):
                with m.If(got):
                    m.d.sync += [cmd.eq(byte), total.eq(byte), wr_ptr.eq(batch_end), rec.eq(0),
                                 overflow.eq(0), frame_images.eq(0)]
                    m.next = "LEN_LO"
                with m.Elif(stale):
                    m.next = "SYNC"
            with m.State("LEN_LO"):
                with m.If(got):
                    m.d.sync += [length[:8].eq(byte), total.eq(total + byte)]
                    m.next = "LEN_HI"
                with m.Elif(stale):
                    m.next = "SYNC"
            with m.State("LEN_HI"):
                with m.If(got):
                    m.d.sync += [length[8:].eq(byte), remaining.eq(Cat(length[:8], byte)),
                                 total.eq(total + byte)]
                    with m.If(Cat(length[:8], byte) == 0):
                        m.next = "CHK"
                    with m.Else():
                        m.next = "PAYLOAD"
                with m.Elif(stale):
                    m.next = "SYNC"
            with m.State("PAYLOAD"):
                with m.If(got):
                    m.d.sync += [total.eq(total + byte), remaining.eq(remaining - 1),
                                 rec.eq(Mux(rec == 2, 0, rec + 1))]
                    with m.If(rec == 0):
                        m.d.sync += ev_time.eq(byte)
                    with m.If(rec == 1):
                        m.d.sync += ev_addr_lo.eq(byte)
                    with m.If((rec == 2) & is_events):
                        final = remaining == 1
                        last = Mux(cmd == P.CMD_RUN, final, byte[7] | final)
                        m.d.comb += [ev_w.addr.eq(wr_ptr),
                                     ev_w.data.time.eq(ev_time),
                                     ev_w.data.addr.eq(Cat(ev_addr_lo, byte[:7])),
                                     ev_w.data.last.eq(last)]
                        with m.If(wr_ptr == ev_cap):
                            m.d.sync += overflow.eq(1)
                        with m.Else():
                            m.d.comb += ev_w.en.eq(1)
                            m.d.sync += [wr_ptr.eq(wr_ptr + 1),
                                         frame_images.eq(frame_images + last)]
                    with m.If(remaining == 1):
                        m.next = "CHK"
                with m.Elif(stale):
                    m.next = "SYNC"
            with m.State("CHK"):
                with m.If(got):
                    bad_length = Mux(is_events, (length == 0) | (rec != 0), length != 0)
                    too_many = Mux(cmd == P.CMD_LOAD,
                                   batch_images + frame_images > img_cap, 0)
                    with m.If((total + byte)[:8] != 0):
                        m.d.sync += error.eq(P.ERR_CHECKSUM)
                    with m.Elif(~known):
                        m.d.sync += error.eq(P.ERR_COMMAND)
                    with m.Elif(bad_length):
                        m.d.sync += error.eq(P.ERR_LENGTH)
                    with m.Elif(overflow | too_many):
                        m.d.sync += error.eq(P.ERR_OVERFLOW)
                    with m.Elif((cmd == P.CMD_BATCH) & (batch_images == 0)):
                        m.d.sync += error.eq(P.ERR_EMPTY)
                    with m.Else():
                        m.d.sync += error.eq(0)
                    m.next = "EXEC"
                with m.Elif(stale):
                    m.next = "SYNC"
            with m.State("EXEC"):
                with m.If(error != 0):
                    reply(P.REP_ERROR, Cat(error, cmd), 2)
                    m.next = "REPLY"
                with m.Elif(cmd == P.CMD_RUN):
                    m.d.sync += [rd_ptr.eq(batch_end), rd_next.eq(batch_end + 1),
                                 more.eq(batch_end != wr_ptr), play_end.eq(wr_ptr),
                                 n_expected.eq(1),
                                 n_results.eq(0), batch_mode.eq(0), results_done.eq(0)]
                    m.next = "PRIME"
                with m.Elif(cmd == P.CMD_BATCH):
                    m.d.sync += [rd_ptr.eq(0), rd_next.eq(1), more.eq(batch_end != 0),
                                 play_end.eq(batch_end), n_expected.eq(batch_images),
                                 n_results.eq(0), batch_mode.eq(1), results_done.eq(0)]
                    m.next = "PRIME"
                with m.Elif(cmd == P.CMD_LOAD):
                    new_images = (batch_images + frame_images)[:16]
                    m.d.sync += [batch_end.eq(wr_ptr), batch_images.eq(new_images)]
                    reply(P.REP_ACK, Cat(_zext(new_images, 16), _zext(wr_ptr, 16)), 4)
                    m.next = "REPLY"
                with m.Elif(cmd == P.CMD_CLEAR):
                    m.d.sync += [batch_end.eq(0), batch_images.eq(0)]
                    reply(P.REP_ACK, C(0, 32), 4)
                    m.next = "REPLY"
                with m.Else():  # INFO
                    reply(P.REP_INFO, Cat(C(self.n_in, 16), C(self.n_out, 8), C(ev_cap, 16),
                                          C(img_cap, 16), C(self.clk_freq, 32)), 11)
                    m.next = "REPLY"
            with m.State("PRIME"):
                m.next = "PLAY"         # the event memory reads rd_ptr (one cycle of latency)
            with m.State("PLAY"):
                # The event at rd_ptr is on the memory's output; on a transfer the next one is
                # read ahead (rd_next, more: registers, so no adder or compare sits between
                # the core's ready and the memory's address).
                m.d.comb += ev_reg.i.valid.eq(more)
                with m.If(fire):
                    m.d.comb += rd_addr.eq(rd_next)
                    m.d.sync += [rd_ptr.eq(rd_next), rd_next.eq(rd_next + 1),
                                 more.eq(rd_next != play_end)]
                    with m.If(~counting):
                        m.d.sync += [counting.eq(1), cycles.eq(1)]
                m.d.comb += core.o_result.ready.eq(1)
                with m.If(core.o_result.valid):
                    m.d.comb += res_w.en.eq(1)
                    m.d.sync += [n_results.eq(n_results + 1), label.eq(core.o_result.payload.label)]
                    with m.If(n_results + 1 == n_expected):
                        m.d.sync += results_done.eq(1)
                # In early mode a result may come before its image's last event: the player
                # still feeds the rest, so the next image starts on a clean core. Both
                # conditions are registers (one cycle late), so the core's `valid` and the
                # event handshake do not reach the FSM combinationally.
                with m.If(results_done & ~more):
                    m.d.sync += [counting.eq(0), total_cycles.eq(cycles), send_idx.eq(0)]
                    m.next = "SEND_READ"
            with m.State("SEND_READ"):
                m.next = "SEND_LOAD"    # result memory read latency
                m.d.sync += send_more.eq(send_idx + 1 != n_expected)
            with m.State("SEND_LOAD"):
                m.d.sync += res_q.eq(res_r.data)   # block RAM output into a register first
                m.next = "SEND_PUT"
            with m.State("SEND_PUT"):
                reply(P.REP_RESULT, self._result_payload(res_q), self.result_bytes)
                m.next = "SEND_WAIT"
            with m.State("SEND_WAIT"):
                with m.If(ftx.done):
                    m.d.sync += send_idx.eq(send_idx + 1)
                    with m.If(send_more):
                        m.next = "SEND_READ"
                    with m.Elif(batch_mode):
                        reply(P.REP_BATCH_DONE,
                              Cat(_zext(n_expected, 16), total_cycles), 6)
                        m.next = "REPLY"
                    with m.Else():
                        m.next = "SYNC"
            with m.State("REPLY"):
                with m.If(ftx.done):
                    m.next = "SYNC"

        # a frame whose bytes stop arriving is dropped
        with m.If(got):
            m.d.sync += silence.eq(0)
        with m.Elif(silence != self.timeout):
            m.d.sync += silence.eq(silence + 1)
        return m


class BoardTop(Elaboratable):
    """The board: default clock, ``uart`` 0 and as many ``led`` resources as exist (<= 8).

    Parameters
    ----------
    core : wiring.Component
        The core to put behind the link (a ``BS4NNCore``).
    n_in : int
        Network inputs.
    baud : int
        UART baud rate; the divisor comes from the platform's default clock frequency.
    event_capacity, image_capacity : int
        On-chip batch buffer sizes (see ``SerialLink``).
    clk_freq : int or None
        Frequency of the ``sync`` domain when it is not the platform's default clock (a PLL).
    """

    def __init__(self, core, *, n_in, baud=DEFAULT_BAUD, event_capacity=4096,
                 image_capacity=256, clk_freq=None):
        if not isinstance(baud, int) or baud <= 0:
            raise ValueError(f"baud must be a positive integer, not {baud!r}")
        self.core = core
        self.n_in = n_in
        self.baud = baud
        self.event_capacity = event_capacity
        self.image_capacity = image_capacity
        self.clk_freq = clk_freq

    def elaborate(self, platform):
        m = Module()
        clk_freq = int(self.clk_freq or platform.default_clk_frequency)
        divisor = uart_divisor(clk_freq, self.baud)
        m.submodules.link = link = SerialLink(
            self.core, divisor=divisor, n_in=self.n_in, event_capacity=self.event_capacity,
            image_capacity=self.image_capacity,
            clk_freq=clk_freq, timeout=clk_freq // 20)
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)
        m.d.comb += [link.rx.eq(rx_buf.i), tx_buf.o.eq(link.tx)]
        for i in range(8):
            try:
                led = platform.request("led", i, dir="-")
            except ResourceError:
                break
            m.submodules[f"led{i}_buf"] = led_buf = io.Buffer("o", led)
            m.d.comb += led_buf.o.eq(link.leds[i])
        return m
