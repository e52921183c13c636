"""The host's end of the serial link: transports and a protocol client.

The transport is pluggable: anything with ``write(bytes)`` and ``read(n) -> bytes`` (which
may return fewer bytes on timeout). ``SerialTransport`` wraps pyserial; ``SimTransport``
drives a simulated ``SerialLink`` through its rx/tx pins, bit by bit, so the tests exercise
the same code as the board. ``Client`` sends requests (``hdl/protocol.py``) and decodes the
replies.
"""

from collections import deque

from . import protocol as P

__all__ = ["SerialTransport", "SimTransport", "Client"]


class SerialTransport:
    """pyserial port at ``baud`` 8N1. ``timeout``: seconds a read waits; default 2, or 60 for
    a ``socket://`` URL (a simulated board, docs/virtual-board.md, runs slower than a chip)."""

    def __init__(self, port, baud=115_200, timeout=None):
        import serial
        if timeout is None:
            timeout = 60.0 if str(port).startswith("socket://") else 2.0
        # serial_for_url takes device paths and pyserial URLs (socket://, rfc2217://, ...)
        self.port = serial.serial_for_url(port, baudrate=baud, timeout=timeout)
        self.port.reset_input_buffer()

    def write(self, data):
        self.port.write(data)
        self.port.flush()

    def read(self, n):
        return self.port.read(n)

    def close(self):
        self.port.close()


class SimTransport:
    """A simulated ``SerialLink`` behind ``write``/``read``: bytes become bits on its ``rx``
    pin, bits on its ``tx`` pin become bytes. The simulation runs only inside ``read``.

    Parameters
    ----------
    dut : SerialLink
    divisor : int
        The link's UART divisor (clock cycles per bit).
    max_cycles : int
        Simulated cycles ``read`` waits for its bytes before giving up.
    vcd : str or None
        Write a waveform file.
    """

    PERIOD = 1e-6

    def __init__(self, dut, *, divisor, max_cycles=2_000_000, vcd=None):
        from amaranth.sim import Simulator
        self.dut = dut
        self.divisor = divisor
        self.max_cycles = max_cycles
        self.to_dut = deque()
        self.from_dut = bytearray()
        self.sim = Simulator(dut)
        self.sim.add_clock(self.PERIOD)
        self.sim.add_testbench(self._drive, background=True)
        self.sim.add_testbench(self._monitor, background=True)
        self._now = 0.0
        self.leds = 0          # the link's LED output, sampled after each byte it sends
        self._vcd = None
        if vcd:
            self._vcd = self.sim.write_vcd(vcd)
            self._vcd.__enter__()

    # plain `await ctx.tick()` loops: the async generators behind .repeat()/.until() complain
    # when a simulation that never finishes is garbage-collected
    @staticmethod
    async def _ticks(ctx, n):
        for _ in range(n):
            await ctx.tick()

    async def _drive(self, ctx):
        div = self.divisor
        ctx.set(self.dut.rx, 1)
        while True:
            if not self.to_dut:
                await self._ticks(ctx, div)
                continue
            byte = self.to_dut.popleft()
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                ctx.set(self.dut.rx, bit)
                await self._ticks(ctx, div)

    async def _monitor(self, ctx):
        div = self.divisor
        while True:
            while ctx.get(self.dut.tx):
                await ctx.tick()
            await self._ticks(ctx, div // 2)           # middle of the start bit
            byte = 0
            for i in range(8):
                await self._ticks(ctx, div)
                byte |= ctx.get(self.dut.tx) << i
            await self._ticks(ctx, div)                # stop bit
            assert ctx.get(self.dut.tx) == 1, "tx: stop bit is 0"
            self.from_dut.append(byte)
            self.leds = ctx.get(self.dut.leds)

    def write(self, data):
        self.to_dut.extend(bytes(data))

    def read(self, n):
        step = 64 * self.divisor * self.PERIOD
        limit = self._now + self.max_cycles * self.PERIOD
        while len(self.from_dut) < n and self._now < limit:
            self._now += step
            self.sim.run_until(self._now)
        out = bytes(self.from_dut[:n])
        del self.from_dut[:n]
        return out

    def idle(self, cycles):
        """Let the simulation run ``cycles`` clock cycles (e.g. to expire a frame timeout)."""
        self._now += cycles * self.PERIOD
        self.sim.run_until(self._now)

    def close(self):
        if self._vcd is not None:
            self._vcd.__exit__(None, None, None)


class Client:
    """Protocol requests over a transport; replies decoded into ``protocol`` objects."""

    def __init__(self, transport):
        self.transport = transport
        self.decoder = P.FrameDecoder()
        self.frames = deque()

    def send(self, frame):
        self.transport.write(frame)

    def reply(self):
        """The next reply frame, decoded (raises TimeoutError when none arrives)."""
        while not self.frames:
            chunk = self.transport.read(self.decoder.need())
            if not chunk:
                raise TimeoutError("no reply from the board")
            self.frames.extend(self.decoder.feed(chunk))
        return P.decode_reply(*self.frames.popleft())

    def _expect(self, kind):
        r = self.reply()
        if isinstance(r, P.Error):
            raise RuntimeError(f"board answered ERROR: {r.name} (command 0x{r.command:02x})")
        if not isinstance(r, kind):
            raise RuntimeError(f"expected {kind.__name__}, got {r}")
        return r

    def info(self):
        self.send(P.encode_info())
        return self._expect(P.Info)

    def run(self, times, addrs):
        self.send(P.encode_run(times, addrs))
        return self._expect(P.Result)

    def clear(self):
        self.send(P.encode_clear())
        return self._expect(P.Ack)

    def load(self, images):
        self.send(P.encode_load(images))
        return self._expect(P.Ack)

    def load_weights(self, words, per_frame=256):
        """A network's load words (runtime-weights board) in WEIGHTS frames, each ACKed."""
        for frame in P.encode_weights(words, per_frame):
            self.send(frame)
            self._expect(P.Ack)

    def batch(self, n):
        """Run the loaded batch: (list of n Results, BatchDone)."""
        self.send(P.encode_batch())
        results = [self._expect(P.Result) for _ in range(n)]
        return results, self._expect(P.BatchDone)
