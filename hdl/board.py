"""Board top: the BS4NN core behind a UART and the framed protocol of ``hdl/protocol.py``.

``SerialLink`` is the platform-free part (UART pins in, LEDs out, a core inside) that the
simulation tests drive; ``BoardTop`` requests the board's clock, UART and LEDs and wraps it.

One image travels: UART rx -> ``FrameReceiver`` -> event buffer (on-chip memory, whole frame
held until its checksum is good) -> ``ImagePlayer`` -> core ``i_event`` at one event per cycle
-> ``o_result`` -> result buffer -> ``ReplySender`` (RESULT frames) -> UART tx. A batch (LOAD
frames, then BATCH) plays every buffered image back to back, so its cycle count measures the
core, not the UART. With a core taking K > 1 events per cycle the receiver packs the events
into the core's beats as it stores them (docs/core.md, "Ports"): the buffer, its capacity
and the event counts of ACK frames then count beats, and the player plays one beat per cycle.
"""

from amaranth import Elaboratable, Module, Mux, Signal
from amaranth.build import ResourceError
from amaranth.lib import io, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from . import protocol as P
from .frame_receiver import FrameReceiver
from .frame_tx import FrameTx
from .image_player import ImagePlayer
from .reply_sender import Answer, ReplySender
from .uart import UARTRx, UARTTx, uart_divisor

__all__ = ["FrameTx", "SerialLink", "BoardTop", "DEFAULT_BAUD"]

DEFAULT_BAUD = 115_200


class SerialLink(wiring.Component):
    """The core, its event and result buffers, the protocol's parts and the UART.

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

    Raises
    ------
    ValueError
        Bad capacities.
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
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(8)})

    def elaborate(self, platform):
        m = Module()
        ev_cap, img_cap = self.event_capacity, self.image_capacity
        m.submodules.core = core = self.core
        m.d.comb += [core.full.eq(0), core.debug.eq(0)]
        if hasattr(core, "o_spike"):
            m.d.comb += core.o_spike.ready.eq(1)
        m.submodules.uart_rx = urx = UARTRx(divisor=self.divisor)
        m.submodules.uart_tx = utx = UARTTx(divisor=self.divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        m.submodules.events = events = Memory(shape=self.event_layout, depth=ev_cap, init=[])
        m.submodules.results = results = Memory(shape=self.result_layout, depth=img_cap, init=[])

        runtime = hasattr(core, "i_load")           # weights come in WEIGHTS frames
        m.submodules.receiver = receiver = FrameReceiver(
            event_layout=self.event_layout, event_capacity=ev_cap, image_capacity=img_cap,
            timeout=self.timeout, weights=runtime)
        wiring.connect(m, urx.o_data, receiver.i_byte)
        if runtime:
            wiring.connect(m, receiver.o_load, core.i_load)
        wiring.connect(m, receiver.events, events.write_port())
        m.submodules.player = player = ImagePlayer(
            event_layout=self.event_layout, result_layout=self.result_layout,
            event_capacity=ev_cap, image_capacity=img_cap)
        wiring.connect(m, events.read_port(), player.events)
        wiring.connect(m, player.results, results.write_port())
        wiring.connect(m, player.o_event, core.i_event)
        wiring.connect(m, core.o_result, player.i_result)
        m.submodules.sender = sender = ReplySender(
            result_layout=self.result_layout,
            info=P.Info(n_in=self.n_in, n_out=self.n_out, event_capacity=ev_cap,
                        image_capacity=img_cap, clk_hz=self.clk_freq))
        wiring.connect(m, results.read_port(), sender.results)
        wiring.connect(m, sender.o_byte, utx.i_data)
        m.d.comb += self.leds.eq(player.label)
        batch_end, batch_images = self._control(m, receiver.o_frame, player.i_run,
                                                sender.i_answer, player.cycles,
                                                core.loaded if runtime else 1)
        m.d.comb += [receiver.batch_end.eq(batch_end), receiver.batch_images.eq(batch_images)]
        return m

    def _control(self, m, frame, run, answer, cycles, loaded):
        """Per frame: update the batch or play it (or the frame's image), then answer.
        ``loaded``: the core has a network (else RUN and BATCH are answered by ERROR).

        Returns the batch's ``(end, images)`` registers.
        """
        batch_end = Signal(range(self.event_capacity + 1))   # the batch: events [0, batch_end)
        batch_images = Signal(range(self.image_capacity + 1))
        cmd = frame.payload.cmd
        is_run = cmd == P.CMD_RUN
        plays = is_run | (cmd == P.CMD_BATCH)
        error = Mux(frame.payload.error != 0, frame.payload.error,
                    Mux(plays & ~loaded, P.ERR_NOT_LOADED, 0))
        m.d.comb += [run.payload.first.eq(Mux(is_run, batch_end, 0)),
                     run.payload.end.eq(Mux(is_run, frame.payload.end, batch_end)),
                     run.payload.images.eq(Mux(is_run, 1, batch_images)),
                     answer.payload.kind.eq(Mux(error != 0, Answer.ERROR,
                                            Mux(plays, Answer.RESULTS,
                                            Mux(cmd == P.CMD_INFO, Answer.INFO, Answer.ACK)))),
                     answer.payload.code.eq(error), answer.payload.command.eq(cmd),
                     answer.payload.images.eq(run.payload.images),
                     answer.payload.events.eq(batch_end),
                     answer.payload.batch.eq(cmd == P.CMD_BATCH),
                     answer.payload.cycles.eq(cycles)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(frame.valid):
                    with m.If(error != 0):
                        m.next = "ANSWER"
                    with m.Elif(plays):
                        m.next = "PLAY"
                    with m.Else():
                        with m.If(cmd == P.CMD_LOAD):
                            m.d.sync += [batch_end.eq(frame.payload.end),
                                         batch_images.eq(batch_images + frame.payload.images)]
                        with m.If(cmd == P.CMD_CLEAR):
                            m.d.sync += [batch_end.eq(0), batch_images.eq(0)]
                        m.next = "ANSWER"
            with m.State("PLAY"):
                m.d.comb += run.valid.eq(1)
                with m.If(run.ready):
                    m.next = "ANSWER"
            with m.State("ANSWER"):
                m.d.comb += answer.valid.eq(1)
                with m.If(answer.ready):
                    m.d.comb += frame.ready.eq(1)
                    m.next = "IDLE"
        return batch_end, batch_images


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
