"""Faults on the serial link, and what the board's frame receiver makes of a byte string.

A fault turns one valid RUN frame into the bytes a host sends (``make_case``):

===========  ==============================================================================
flip         1-3 bits flipped anywhere in the frame (SYNC, header, payload or checksum)
drop         1-3 bytes removed
dup          1-3 bytes sent twice
truncate     the frame cut after 1 .. len-1 bytes
noise        1-32 bytes other than SYNC, then the intact frame (skipped by the protocol)
garbage      1-64 random bytes with SYNC among them, sent without the frame
disconnect   the frame cut after 1 .. len-1 bytes, then the host disconnects
===========  ==============================================================================

``receiver_view`` parses bytes the way the frame receiver does (bytes before SYNC skipped,
``LEN`` bytes of payload, then the checksum; the verdict in the receiver's order), ignoring
timing: it assumes no byte arrives while a frame is being answered. A case is exactly
predictable when no byte follows its first complete frame.
"""
from __future__ import annotations

from dataclasses import dataclass

from hdl import protocol as P

KINDS = ("flip", "drop", "dup", "truncate", "noise", "garbage", "disconnect")
KNOWN = (P.CMD_RUN, P.CMD_LOAD, P.CMD_BATCH, P.CMD_CLEAR, P.CMD_INFO)


@dataclass(frozen=True)
class Parsed:
    """A complete frame as the receiver sees it: command, payload, error code (0: good), and
    its byte span ``[start, end)`` in the data."""
    cmd: int
    payload: bytes
    error: int
    start: int
    end: int


def verdict(cmd, payload, chk_ok, *, event_capacity, image_capacity, batch_end=0,
            batch_images=0):
    """The error code the receiver gives a complete frame (``FrameReceiver._verdict``)."""
    events = cmd in (P.CMD_RUN, P.CMD_LOAD)
    n = len(payload)
    images = 0
    if cmd == P.CMD_LOAD:
        stored = min(n // 3, event_capacity - batch_end)
        images = sum(1 for k in range(stored)
                     if payload[3 * k + 2] & 0x80 or 3 * k + 3 == n)
    if not chk_ok:
        return P.ERR_CHECKSUM
    if cmd not in KNOWN:
        return P.ERR_COMMAND
    if (events and (n == 0 or n % 3)) or (not events and n):
        return P.ERR_LENGTH
    if (events and n // 3 > event_capacity - batch_end) or batch_images + images > image_capacity:
        return P.ERR_OVERFLOW
    if cmd == P.CMD_BATCH and batch_images == 0:
        return P.ERR_EMPTY
    return 0


def receiver_view(data: bytes, **capacities) -> tuple[list[Parsed], bool]:
    """(complete frames, whether a frame is left half-received at the end) for ``data``."""
    frames, i = [], 0
    while True:
        i = data.find(bytes([P.SYNC]), i)
        if i < 0:
            return frames, False
        if len(data) - i < 4:
            return frames, True
        length = data[i + 2] | data[i + 3] << 8
        end = i + 5 + length
        if end > len(data):
            return frames, True
        body = data[i + 1:end - 1]
        ok = (sum(body) + data[end - 1]) & 0xFF == 0
        frames.append(Parsed(data[i + 1], bytes(body[3:]),
                             verdict(data[i + 1], body[3:], ok, **capacities), i, end))
        i = end


@dataclass(frozen=True)
class Case:
    """Bytes to send for one faulty frame; ``disconnect``: close instead of waiting."""
    kind: str
    data: bytes
    disconnect: bool = False


def _positions(rng, n, k):
    return sorted(int(x) for x in rng.choice(n, size=min(k, n), replace=False))


def make_case(kind: str, frame: bytes, rng) -> Case:
    """The bytes a host sends for ``frame`` under fault ``kind`` (see the module docstring)."""
    data = bytearray(frame)
    if kind == "flip":
        for pos in _positions(rng, len(data) * 8, int(rng.integers(1, 4))):
            data[pos // 8] ^= 1 << (pos % 8)
    elif kind == "drop":
        for pos in reversed(_positions(rng, len(data), int(rng.integers(1, 4)))):
            del data[pos]
    elif kind == "dup":
        for pos in reversed(_positions(rng, len(data), int(rng.integers(1, 4)))):
            data.insert(pos, data[pos])
    elif kind in ("truncate", "disconnect"):
        data = data[:int(rng.integers(1, len(data)))]
    elif kind == "noise":
        noise = rng.integers(0, 255, size=int(rng.integers(1, 33)))
        noise[noise >= P.SYNC] += 1             # every byte value but SYNC
        data = bytearray(noise.astype("u1").tobytes()) + data
    elif kind == "garbage":
        data = bytearray(rng.integers(0, 256, size=int(rng.integers(1, 65))).astype("u1").tobytes())
        for pos in _positions(rng, len(data), int(rng.integers(1, 4))):
            data[pos] = P.SYNC
    else:
        raise ValueError(f"unknown fault {kind!r}: expected one of {', '.join(KINDS)}")
    return Case(kind, bytes(data), disconnect=kind == "disconnect")


def acted_on(case: Case, frame: bytes, **capacities) -> bool:
    """Whether the board would carry out a frame of ``case`` other than the intact ``frame``
    (a corruption the 8-bit checksum cannot see, or garbage forming a good frame)."""
    frames, _ = receiver_view(case.data, **capacities)
    return any(f.error == 0 and case.data[f.start:f.end] != frame for f in frames)
