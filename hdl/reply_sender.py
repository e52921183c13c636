"""The board's answer to one request: ERROR, ACK, INFO, or the results of a run (RESULT frames
read from the result buffer, then BATCH_DONE after a batch), framed by ``FrameTx``."""

from amaranth import C, Cat, Module, Signal, Value
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from . import protocol as P
from .frame_tx import FrameTx

__all__ = ["Answer", "ReplySender", "answer_layout"]


class Answer(enum.Enum, shape=2):
    """What a request is answered with."""
    ERROR = 0      # ERROR (code, command)
    ACK = 1        # ACK (images, events)
    INFO = 2       # INFO (constants)
    RESULTS = 3    # ``images`` RESULT frames, then BATCH_DONE (images, cycles) if ``batch``


class Frame(enum.Enum, shape=8):
    """The reply frame being sent, valued as its protocol code."""
    RESULT = P.REP_RESULT
    ACK = P.REP_ACK
    BATCH_DONE = P.REP_BATCH_DONE
    INFO = P.REP_INFO
    ERROR = P.REP_ERROR


def answer_layout():
    return data.StructLayout({"kind": Answer, "code": 8, "command": 8, "images": 16,
                              "events": 16, "batch": 1, "cycles": 32})


def _zext(value, width):
    """``value`` zero-extended (or truncated) to ``width`` bits."""
    value = Value.cast(value)
    if len(value) >= width:
        return value[:width]
    return Cat(value, C(0, width - len(value)))


class ReplySender(wiring.Component):
    """Answers one request at a time on ``o_byte``.

    Parameters
    ----------
    result_layout : data.StructLayout
        The core's result.
    info : protocol.Info
        What INFO reports.

    Members
    -------
    i_answer : In(stream.Signature(answer_layout()))
        Held while the answer is sent; ``ready`` with its last byte.
    results : In(ReadPort.Signature)
        The result buffer's read port (results 0 .. images - 1 are sent).
    o_byte : Out(stream.Signature(8))
        To the UART.
    """

    def __init__(self, *, result_layout, info):
        self.result_layout = result_layout
        self.info = info
        self.n_out = result_layout["times"].shape.length
        self.result_bytes = P.result_payload_bytes(self.n_out)
        super().__init__({
            "i_answer": In(stream.Signature(answer_layout())),
            "results": In(ReadPort.Signature(addr_width=ceil_log2(info.image_capacity),
                                             shape=result_layout)),
            "o_byte": Out(stream.Signature(8)),
        })

    def _payloads(self, answer, result):
        """{frame: (payload, length)} of every reply frame."""
        i = self.info
        fields = [_zext(result.label, 8), _zext(result.step, 8),
                  Cat(result.tie, result.no_spike, C(0, 6)), _zext(result.cycles, 32)]
        fields += [_zext(result.times[k], 16) for k in range(self.n_out)]
        return {
            Frame.RESULT: (Cat(*fields), self.result_bytes),
            Frame.ACK: (Cat(answer.images, answer.events), 4),
            Frame.BATCH_DONE: (Cat(answer.images, answer.cycles), 6),
            Frame.INFO: (Cat(C(i.n_in, 16), C(i.n_out, 8), C(i.event_capacity, 16),
                             C(i.image_capacity, 16), C(i.clk_hz, 32)), 11),
            Frame.ERROR: (Cat(answer.code, answer.command), 2),
        }

    def elaborate(self, platform):
        m = Module()
        m.submodules.frame_tx = ftx = FrameTx(max_payload=max(self.result_bytes, 11))
        wiring.connect(m, ftx.o_byte, wiring.flipped(self.o_byte))
        answer = self.i_answer.payload
        frame = Signal(Frame, init=Frame.RESULT)   # the frame being sent
        index = Signal(range(self.info.image_capacity + 1))
        more = Signal()                            # results left after `index` (a register)
        result = Signal(self.result_layout)        # the result being sent, registered

        # A RESULT unless `frame` says otherwise; a shorter frame overrides only its own bytes
        # (FrameTx never sends bytes past `length`), so no logic gates the result's bytes.
        payloads = self._payloads(answer, result)
        m.d.comb += [ftx.payload.eq(payloads[Frame.RESULT][0]), ftx.length.eq(self.result_bytes)]
        with m.Switch(frame):
            for code, (payload, length) in payloads.items():
                if code is not Frame.RESULT:
                    with m.Case(code):
                        m.d.comb += [ftx.payload[:len(payload)].eq(payload),
                                     ftx.length.eq(length)]
        m.d.comb += [ftx.cmd.eq(frame), self.results.addr.eq(index)]
        m.d.sync += ftx.start.eq(0)

        def send(what):
            m.d.sync += [frame.eq(what), ftx.start.eq(1)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.i_answer.valid):
                    with m.Switch(answer.kind):
                        with m.Case(Answer.RESULTS):
                            m.d.sync += index.eq(0)
                            m.next = "READ"
                        for kind in (Answer.ERROR, Answer.ACK, Answer.INFO):
                            with m.Case(kind):
                                send(Frame[kind.name])
                                m.next = "LAST"
            with m.State("READ"):
                m.next = "LOAD"    # result memory read latency
                m.d.sync += more.eq(index + 1 != answer.images)
            with m.State("LOAD"):
                m.d.sync += result.eq(self.results.data)   # block RAM output into a register
                m.next = "PUT"
            with m.State("PUT"):
                send(Frame.RESULT)
                m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(ftx.done):
                    m.d.sync += index.eq(index + 1)
                    with m.If(more):
                        m.next = "READ"
                    with m.Elif(answer.batch):
                        send(Frame.BATCH_DONE)
                        m.next = "LAST"
                    with m.Else():
                        m.d.comb += self.i_answer.ready.eq(1)
                        m.next = "IDLE"
            with m.State("LAST"):
                with m.If(ftx.done):
                    m.d.comb += self.i_answer.ready.eq(1)
                    m.next = "IDLE"
        return m
