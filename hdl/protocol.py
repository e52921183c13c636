"""The framed serial protocol between a host and the board top (shared by gateware and host).

Pure Python (no Amaranth): ``hdl/board.py`` takes its constants from here, ``hdl/host.py``
its encoders and decoders.

Frame (both directions)::

    SYNC (0xA5) | CMD u8 | LEN u16 little-endian | PAYLOAD (LEN bytes) | CHK u8

``CHK`` makes the byte sum of ``CMD, LEN lo, LEN hi, PAYLOAD..., CHK`` zero modulo 256.
Bytes before a SYNC are skipped.

Host -> board commands

===========  =====  ===========================================================================
RUN          0x01   payload = one image's events, 3 bytes each: time u8, addr u16 LE
                    (sorted by (time, addr), at least one). Reply: one RESULT.
LOAD         0x02   payload = events of one or more whole images appended to the on-chip batch
                    buffer; bit 15 of addr marks the last event of an image (the frame's final
                    event always ends an image). Reply: ACK (images, events now buffered).
BATCH        0x03   empty payload: run every buffered image back to back at full speed.
                    Reply: one RESULT per image, then BATCH_DONE (images, total cycles).
CLEAR        0x04   empty payload: empty the batch buffer. Reply: ACK (0, 0).
INFO         0x05   empty payload. Reply: INFO (inputs, outputs, event capacity, image capacity).
WEIGHTS      0x06   (a core with runtime-loaded weights, docs/core.md) payload = flags u8 (bit 0:
                    this frame starts a network's load) then >= 1 load words u32 LE, the order
                    of hdl/weight_loader.py, frames in order. Reply: ACK (images, events). A
                    WEIGHTS frame answered by ERROR leaves no network loaded: load again.
===========  =====  ===========================================================================

Board -> host replies

===========  =====  ===========================================================================
RESULT       0x81   label u8, step u8, flags u8 (bit0 tie, bit1 no_spike), cycles u32 LE,
                    then N_out output spike times u16 LE (the core's ``o_result``)
ACK          0x82   images u16 LE, events u16 LE
BATCH_DONE   0x83   images u16 LE, cycles u32 LE (first event accepted -> last result
                    and last event accepted, whichever is later)
INFO         0x85   n_in u16, n_out u8, event capacity u16, image capacity u16, clock Hz u32
ERROR        0xEE   code u8, command u8 (see ERR_*)
===========  =====  ===========================================================================

RUN and BATCH on a runtime-weights board before a complete load are answered by ERROR
(``ERR_NOT_LOADED``). A malformed frame is consumed up to its stated length and checksum, then answered with ERROR;
the gateware also drops a frame whose bytes stop arriving for ``timeout`` cycles.
"""

from dataclasses import dataclass

import numpy as np

SYNC = 0xA5

CMD_RUN = 0x01
CMD_LOAD = 0x02
CMD_BATCH = 0x03
CMD_CLEAR = 0x04
CMD_INFO = 0x05
CMD_WEIGHTS = 0x06

REP_RESULT = 0x81
REP_ACK = 0x82
REP_BATCH_DONE = 0x83
REP_INFO = 0x85
REP_ERROR = 0xEE

ERR_CHECKSUM = 1   # checksum mismatch
ERR_LENGTH = 2     # length not allowed for this command (0 or not a multiple of 3 for events)
ERR_COMMAND = 3    # unknown command
ERR_OVERFLOW = 4   # events do not fit the on-chip buffer (or too many images)
ERR_EMPTY = 5      # BATCH with nothing loaded
ERR_NOT_LOADED = 6  # RUN or BATCH before a complete WEIGHTS load (runtime weights)

ERROR_NAMES = {ERR_CHECKSUM: "bad checksum", ERR_LENGTH: "bad length",
               ERR_COMMAND: "unknown command", ERR_OVERFLOW: "buffer overflow",
               ERR_EMPTY: "empty batch", ERR_NOT_LOADED: "no network loaded"}

EVENT_BYTES = 3
LAST_FLAG = 0x8000   # in the addr field of LOAD events
FLAG_TIE = 1
FLAG_NO_SPIKE = 2
WEIGHTS_FIRST = 1    # WEIGHTS flags: the frame starts a load
WORD_BYTES = 4
MAX_PAYLOAD = 0xFFFF


class ProtocolError(Exception):
    """A frame that cannot be decoded (bad sync, checksum, length or unknown reply)."""


def checksum(body):
    """The byte that makes ``sum(body) + chk`` zero modulo 256."""
    return (-sum(body)) & 0xFF


def encode_frame(cmd, payload=b""):
    """One frame: SYNC, cmd, length, payload, checksum."""
    payload = bytes(payload)
    if not 0 <= cmd <= 0xFF:
        raise ValueError(f"command {cmd!r} is not a byte")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = bytes([cmd, len(payload) & 0xFF, len(payload) >> 8]) + payload
    return bytes([SYNC]) + body + bytes([checksum(body)])


def encode_events(times, addrs, last=None):
    """Events as 3-byte records (time, addr LE); ``last`` (bool array) sets bit 15 of addr."""
    times = np.asarray(times, dtype=np.int64)
    addrs = np.asarray(addrs, dtype=np.int64)
    if times.shape != addrs.shape or times.ndim != 1:
        raise ValueError(f"times {times.shape} and addrs {addrs.shape} must be equal 1-D shapes")
    if times.size and (times.min() < 0 or times.max() > 255):
        raise ValueError("event times must lie in 0..255")
    if addrs.size and (addrs.min() < 0 or addrs.max() >= LAST_FLAG):
        raise ValueError(f"event addresses must lie in 0..{LAST_FLAG - 1}")
    if last is not None:
        addrs = addrs | (np.asarray(last, dtype=bool).astype(np.int64) * LAST_FLAG)
    rec = np.empty((times.size, 3), dtype=np.uint8)
    rec[:, 0] = times
    rec[:, 1] = addrs & 0xFF
    rec[:, 2] = addrs >> 8
    return rec.tobytes()


def encode_run(times, addrs):
    """RUN frame for one image's events."""
    if len(times) == 0:
        raise ValueError("an image needs at least one event")
    return encode_frame(CMD_RUN, encode_events(times, addrs))


def encode_load(images):
    """LOAD frame for a list of (times, addrs) pairs, each a whole image."""
    times, addrs, last = [], [], []
    for t, a in images:
        if len(t) == 0:
            raise ValueError("an image needs at least one event")
        times.append(np.asarray(t)); addrs.append(np.asarray(a))
        flag = np.zeros(len(t), dtype=bool); flag[-1] = True
        last.append(flag)
    return encode_frame(CMD_LOAD, encode_events(np.concatenate(times), np.concatenate(addrs),
                                                np.concatenate(last)))


def encode_batch():
    return encode_frame(CMD_BATCH)


def encode_clear():
    return encode_frame(CMD_CLEAR)


def encode_info():
    return encode_frame(CMD_INFO)


def encode_weights(words, per_frame=256):
    """WEIGHTS frames of a whole load (``hdl.weight_loader.load_words``), in order."""
    words = [int(w) for w in words]
    if not words or any(not 0 <= w < 1 << 32 for w in words):
        raise ValueError("a load is one or more 32-bit words")
    return [encode_frame(CMD_WEIGHTS, bytes([WEIGHTS_FIRST if k == 0 else 0]) + b"".join(
                w.to_bytes(WORD_BYTES, "little") for w in words[k:k + per_frame]))
            for k in range(0, len(words), per_frame)]


# --- replies -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Result:
    """One image's answer: the core's ``o_result``."""
    label: int
    step: int
    tie: bool
    no_spike: bool
    cycles: int
    times: tuple


@dataclass(frozen=True)
class Ack:
    images: int
    events: int


@dataclass(frozen=True)
class BatchDone:
    images: int
    cycles: int


@dataclass(frozen=True)
class Info:
    n_in: int
    n_out: int
    event_capacity: int
    image_capacity: int
    clk_hz: int


@dataclass(frozen=True)
class Error:
    code: int
    command: int

    @property
    def name(self):
        return ERROR_NAMES.get(self.code, f"error {self.code}")


def result_payload_bytes(n_out):
    return 7 + 2 * n_out


def encode_result(r):
    """RESULT frame (what the gateware sends; used by tests and stand-ins)."""
    flags = (FLAG_TIE if r.tie else 0) | (FLAG_NO_SPIKE if r.no_spike else 0)
    payload = bytes([r.label, r.step, flags]) + int(r.cycles).to_bytes(4, "little")
    payload += b"".join(int(t).to_bytes(2, "little") for t in r.times)
    return encode_frame(REP_RESULT, payload)


def decode_reply(cmd, payload):
    """Turn one reply frame's command and payload into a Result/Ack/BatchDone/Info/Error."""
    p = bytes(payload)
    if cmd == REP_RESULT:
        if len(p) < 7 or (len(p) - 7) % 2:
            raise ProtocolError(f"RESULT payload of {len(p)} bytes")
        times = tuple(int.from_bytes(p[7 + 2 * k:9 + 2 * k], "little")
                      for k in range((len(p) - 7) // 2))
        return Result(label=p[0], step=p[1], tie=bool(p[2] & FLAG_TIE),
                      no_spike=bool(p[2] & FLAG_NO_SPIKE),
                      cycles=int.from_bytes(p[3:7], "little"), times=times)
    if cmd == REP_ACK and len(p) == 4:
        return Ack(images=int.from_bytes(p[0:2], "little"), events=int.from_bytes(p[2:4], "little"))
    if cmd == REP_BATCH_DONE and len(p) == 6:
        return BatchDone(images=int.from_bytes(p[0:2], "little"),
                         cycles=int.from_bytes(p[2:6], "little"))
    if cmd == REP_INFO and len(p) == 11:
        return Info(n_in=int.from_bytes(p[0:2], "little"), n_out=p[2],
                    event_capacity=int.from_bytes(p[3:5], "little"),
                    image_capacity=int.from_bytes(p[5:7], "little"),
                    clk_hz=int.from_bytes(p[7:11], "little"))
    if cmd == REP_ERROR and len(p) == 2:
        return Error(code=p[0], command=p[1])
    raise ProtocolError(f"unknown reply 0x{cmd:02x} with {len(p)} payload bytes")


class FrameDecoder:
    """Incremental frame parser: ``feed(bytes)`` returns the complete (cmd, payload) frames.

    Bytes before a SYNC are skipped; a frame with a bad checksum raises ProtocolError.
    """

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data):
        self._buf += data
        frames = []
        while True:
            start = self._buf.find(SYNC)
            if start < 0:
                self._buf.clear()
                return frames
            del self._buf[:start]
            if len(self._buf) < 4:
                return frames
            length = self._buf[2] | (self._buf[3] << 8)
            if len(self._buf) < 5 + length:
                return frames
            body = bytes(self._buf[1:4 + length])
            chk = self._buf[4 + length]
            del self._buf[:5 + length]
            if (sum(body) + chk) & 0xFF:
                raise ProtocolError(f"reply 0x{body[0]:02x}: bad checksum")
            frames.append((body[0], body[3:]))

    @property
    def pending(self):
        return len(self._buf)

    def need(self):
        """Bytes still missing for the next frame (at least 1)."""
        if len(self._buf) < 4 or self._buf[0] != SYNC:
            return 1
        length = self._buf[2] | (self._buf[3] << 8)
        return max(1, 5 + length - len(self._buf))


def decode_frames(data):
    """Every complete frame in ``data`` (bytes), decoded into reply objects."""
    return [decode_reply(c, p) for c, p in FrameDecoder().feed(data)]
