"""Request frames off the UART: parsed, checked, their event records stored in the event buffer.

A frame's events go into the event buffer from ``batch_end`` on as they arrive; the frame is
then offered on ``o_frame`` (with its error code, 0 if good) and held until the board has
answered it. Bytes that arrive meanwhile are dropped, and so is a frame whose bytes stop
arriving for ``timeout`` cycles (the wire protocol: ``hdl/protocol.py``).

For a core taking K > 1 events per cycle the events are packed into its ``i_event`` beats
(docs/core.md, "Ports"): an event of the same step and image as the frame's last entry joins
that entry while it holds fewer than K, so the buffer holds beats and counts them.
"""

from amaranth import C, Cat, Module, Mux, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from . import protocol as P
from .weight_loader import load_layout

__all__ = ["FrameReceiver", "frame_layout"]


def frame_layout(event_capacity):
    """A received frame: command, error code (0: good), event buffer end, images it holds."""
    return data.StructLayout({"cmd": 8, "error": 8,
                              "end": Shape.cast(range(event_capacity + 1)), "images": 16})


class FrameReceiver(wiring.Component):
    """Bytes in, checked frames out; RUN and LOAD events written to the event buffer.

    Parameters
    ----------
    event_layout : data.StructLayout
        The core's event (``time``, ``addr``, ``last``) or beat (also ``more_addr``,
        ``more_valid``: docs/core.md, "Ports").
    event_capacity, image_capacity : int
        Event buffer depth; images a batch may hold.
    timeout : int
        Cycles of silence after which a half-received frame is dropped.
    weights : bool
        Take WEIGHTS frames (a core with runtime-loaded weights): their words go out on
        ``o_load`` as they arrive; a bad WEIGHTS frame is followed by a ``first`` word that
        leaves the core without a network.

    Members
    -------
    i_byte : In(stream.Signature(8))
        UART bytes (always accepted).
    batch_end : In(range(event_capacity + 1))
        Events already buffered: a frame's events are stored from here on.
    batch_images : In(range(image_capacity + 1))
        Images already buffered (LOAD overflow, BATCH of nothing).
    events : In(WritePort.Signature)
        The event buffer's write port.
    o_frame : Out(stream.Signature(frame_layout(event_capacity)))
        The frame; ``ready`` once it has been answered.
    o_load : Out(stream.Signature(load_layout()))
        (``weights`` only) the core's ``i_load``.
    """

    def __init__(self, *, event_layout, event_capacity, image_capacity, timeout, weights=False):
        self.event_capacity = event_capacity
        self.image_capacity = image_capacity
        more = event_layout.members.get("more_valid")
        self.events_per_beat = 1 + (Shape.cast(more).width if more is not None else 0)
        self.timeout = timeout
        self.weights = weights
        extra = {"o_load": Out(stream.Signature(load_layout()))} if weights else {}
        super().__init__({**extra,
            "i_byte": In(stream.Signature(8)),
            "batch_end": In(range(event_capacity + 1)),
            "batch_images": In(range(image_capacity + 1)),
            "events": In(WritePort.Signature(addr_width=ceil_log2(event_capacity),
                                             shape=event_layout)),
            "o_frame": Out(stream.Signature(frame_layout(event_capacity))),
        })

    def elaborate(self, platform):
        m = Module()
        byte, got = self.i_byte.payload, self.i_byte.valid
        frame = self.o_frame.payload
        length = Signal(16)
        remaining = Signal(16)
        total = Signal(8)                           # byte sum since SYNC
        rec = Signal(range(3))                      # byte position within an event record
        overflow = Signal()                         # an event found the buffer full
        silence = Signal(range(self.timeout + 1))
        stale = silence == self.timeout
        m.d.comb += self.i_byte.ready.eq(1)
        word_overflow = Signal()                    # a load word found the last one not taken
        if self.weights:
            with m.If(self.o_load.valid & self.o_load.ready):
                m.d.sync += self.o_load.valid.eq(0)

        with m.FSM():
            with m.State("SYNC"):
                with m.If(got & (byte == P.SYNC)):
                    m.next = "CMD"
            with m.State("CMD"):
                with m.If(got):
                    m.d.sync += [frame.cmd.eq(byte), total.eq(byte), rec.eq(0), overflow.eq(0),
                                 word_overflow.eq(0),
                                 frame.end.eq(self.batch_end), frame.images.eq(0)]
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
                    self._store_event(m, byte, rec, overflow, final=remaining == 1)
                    if self.weights:
                        self._store_word(m, byte, remaining == length, word_overflow)
                    with m.If(remaining == 1):
                        m.next = "CHK"
                with m.Elif(stale):
                    m.next = "SYNC"
            with m.State("CHK"):
                with m.If(got):
                    verdict = Signal(8)
                    m.d.comb += verdict.eq(self._verdict((total + byte)[:8], length, rec,
                                                         overflow | word_overflow))
                    m.d.sync += frame.error.eq(verdict)
                    if self.weights:
                        with m.If(self._is_weights() & (verdict != 0)):    # no network now
                            m.d.sync += [self.o_load.valid.eq(1), self.o_load.payload.first.eq(1),
                                         self.o_load.payload.data.eq(0)]
                    m.next = "FRAME"
                with m.Elif(stale):
                    m.next = "SYNC"
            with m.State("FRAME"):
                m.d.comb += self.o_frame.valid.eq(1)
                with m.If(self.o_frame.ready):
                    m.next = "SYNC"

        with m.If(got):
            m.d.sync += silence.eq(0)
        with m.Elif(~stale):
            m.d.sync += silence.eq(silence + 1)
        return m

    def _is_events(self):
        cmd = self.o_frame.payload.cmd
        return (cmd == P.CMD_RUN) | (cmd == P.CMD_LOAD)

    def _is_weights(self):
        return (self.o_frame.payload.cmd == P.CMD_WEIGHTS) if self.weights else C(0, 1)

    def _store_word(self, m, byte, flags, overflow):
        """WEIGHTS: the flags byte, then each 4-byte word out on ``o_load``."""
        ld = self.o_load
        low = Signal(24)                            # the word's first three bytes
        k = Signal(2)                               # byte within the word
        first = Signal()
        with m.If(self._is_weights()):
            with m.If(flags):
                m.d.sync += [first.eq(byte[0]), k.eq(0)]
            with m.Else():
                m.d.sync += k.eq(k + 1)
                with m.If(k == 3):
                    m.d.sync += [ld.payload.data.eq(Cat(low, byte)), ld.payload.first.eq(first),
                                 first.eq(0), ld.valid.eq(1)]
                    with m.If(ld.valid & ~ld.ready):
                        m.d.sync += overflow.eq(1)
                with m.Else():
                    m.d.sync += low.word_select(k, 8).eq(byte)

    def _store_event(self, m, byte, rec, overflow, *, final):
        """Collect an event record's three bytes; write it on the third (RUN and LOAD)."""
        frame = self.o_frame.payload
        ev_time = Signal(8)
        ev_addr_lo = Signal(8)
        with m.If(rec == 0):
            m.d.sync += ev_time.eq(byte)
        with m.If(rec == 1):
            m.d.sync += ev_addr_lo.eq(byte)
        with m.If((rec == 2) & self._is_events()):
            last = Mux(frame.cmd == P.CMD_RUN, final, byte[7] | final)
            addr = Cat(ev_addr_lo, byte[:7])
            m.d.comb += [self.events.addr.eq(frame.end),
                         self.events.data.time.eq(ev_time),
                         self.events.data.addr.eq(addr),
                         self.events.data.last.eq(last)]
            joined = self._join_beat(m, ev_time, addr, last) if self.events_per_beat > 1 else 0
            with m.If(joined):
                m.d.sync += frame.images.eq(frame.images + last)
            with m.Elif(frame.end == self.event_capacity):
                m.d.sync += overflow.eq(1)
            with m.Else():
                m.d.comb += self.events.en.eq(1)
                m.d.sync += [frame.end.eq(frame.end + 1), frame.images.eq(frame.images + last)]

    def _join_beat(self, m, ev_time, addr, last):
        """K > 1 events per beat: the frame's last entry, kept in ``beat``, takes the event
        when it has the same step, is not an image's end and has a free slot (the entry is
        written again, whole); otherwise the event starts a new entry. Returns "joined"."""
        frame, wr = self.o_frame.payload, self.events
        beat = Signal.like(wr.data, name="beat")
        filled = Signal(range(self.events_per_beat + 1))      # events in `beat`
        joined = Signal()
        # frame.end != batch_end: `beat` is an entry of this frame (never one of the batch)
        m.d.comb += joined.eq((frame.end != self.batch_end) & (filled != self.events_per_beat)
                              & (beat.time == ev_time) & ~beat.last)
        grown = Signal.like(beat)
        m.d.comb += grown.eq(beat)
        for j in range(self.events_per_beat - 1):
            with m.If(filled == j + 1):
                m.d.comb += [grown.more_addr[j].eq(addr), grown.more_valid[j].eq(1)]
        m.d.comb += grown.last.eq(last)
        with m.If(joined):
            m.d.comb += [wr.addr.eq(frame.end - 1), wr.data.eq(grown), wr.en.eq(1)]
            m.d.sync += [beat.eq(grown), filled.eq(filled + 1)]
        with m.Elif(frame.end != self.event_capacity):
            m.d.sync += [beat.eq(wr.data), filled.eq(1)]
        return joined

    def _verdict(self, checksum, length, rec, overflow):
        """The frame's error code (0: good), first failing check first."""
        frame = self.o_frame.payload
        cmd = frame.cmd
        known = (self._is_events() | (cmd == P.CMD_BATCH) | (cmd == P.CMD_CLEAR)
                 | (cmd == P.CMD_INFO) | self._is_weights())
        bad_words = (length < 1 + P.WORD_BYTES) | ((length - 1)[:2] != 0)
        bad_length = Mux(self._is_weights(), bad_words,
                         Mux(self._is_events(), (length == 0) | (rec != 0), length != 0))
        too_many = Mux(cmd == P.CMD_LOAD,
                       self.batch_images + frame.images > self.image_capacity, 0)
        empty = (cmd == P.CMD_BATCH) & (self.batch_images == 0)
        return Mux(checksum != 0, P.ERR_CHECKSUM,
               Mux(~known, P.ERR_COMMAND,
               Mux(bad_length, P.ERR_LENGTH,
               Mux(overflow | too_many, P.ERR_OVERFLOW,
               Mux(empty, P.ERR_EMPTY, 0)))))
