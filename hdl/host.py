"""Host side of the serial link: send golden-vector images to a board, check every answer.

    python -m hdl.host --port /dev/ttyUSB1 ARTIFACT_DIR [--images N] [--baud B]
    python -m hdl.host --port sim artifacts/ice64 --images 4      # against the simulated board

Runs N images one at a time (RUN: latency over the UART), then the same images again as
on-chip batches (LOAD + BATCH: the core's own throughput from its cycle count), and checks
each RESULT against the golden vectors (label, decision step, flags, output spike times).

The transport is pluggable: anything with ``write(bytes)`` and ``read(n) -> bytes`` (which
may return fewer bytes on timeout). ``SerialTransport`` wraps pyserial; ``SimTransport``
drives a simulated ``SerialLink`` through its rx/tx pins, bit by bit, so the tests exercise
the same code as the board.
"""

import argparse
import sys
import time
from collections import deque

import numpy as np

from contract.cli import command

from . import protocol as P

__all__ = ["SerialTransport", "SimTransport", "Client", "golden_results", "check_result",
           "run_check", "main"]


class SerialTransport:
    """pyserial port at ``baud`` 8N1."""

    def __init__(self, port, baud=115_200, timeout=2.0):
        import serial
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

    def batch(self, n):
        """Run the loaded batch: (list of n Results, BatchDone)."""
        self.send(P.encode_batch())
        results = [self._expect(P.Result) for _ in range(n)]
        return results, self._expect(P.BatchDone)


# --- golden vectors ------------------------------------------------------------------------

def golden_results(vectors, n_layers):
    """Expected RESULT fields per image: dict of arrays label, step, tie, no_spike, times.

    The core runs in early mode (``full`` = 0): output time k is reported when it is
    <= step + 1, else 256 (docs/core.md).
    """
    spikes = np.asarray(vectors[f"spikes_{n_layers - 1}"], dtype=np.int64)   # (N, N_out)
    step = np.asarray(vectors["step"], dtype=np.int64)
    times = np.where(spikes <= step[:, None] + 1, spikes, 256)
    return {"label": np.asarray(vectors["label"], dtype=np.int64), "step": step,
            "tie": np.asarray(vectors["tie"], dtype=bool),
            "no_spike": np.asarray(vectors["no_spike"], dtype=bool), "times": times}


def image_events(vectors, n):
    lo, hi = int(vectors["ev_offsets"][n]), int(vectors["ev_offsets"][n + 1])
    return vectors["ev_time"][lo:hi], vectors["ev_addr"][lo:hi]


def check_result(gold, n, r):
    """Differences between Result ``r`` and golden image ``n``, as readable strings."""
    diffs = []
    for field in ("label", "step", "tie", "no_spike"):
        want = gold[field][n].item()
        got = getattr(r, field)
        if got != want:
            diffs.append(f"image {n}: {field} is {got}, golden model says {want}")
    want_t = tuple(int(t) for t in gold["times"][n])
    if tuple(r.times) != want_t:
        ks = [k for k in range(len(want_t)) if k >= len(r.times) or r.times[k] != want_t[k]]
        diffs.append(f"image {n}: output times differ at {ks}: got "
                     f"{[r.times[k] for k in ks if k < len(r.times)]}, want {[want_t[k] for k in ks]}")
    return diffs


def run_check(client, vectors, n_layers, n_images, *, batch=True, log=print):
    """RUN each image, then the same images as on-chip batches; returns a summary dict."""
    gold = golden_results(vectors, n_layers)
    n_images = min(n_images, len(gold["label"]))
    info = client.info()
    log(f"board: {info.n_in} inputs, {info.n_out} outputs, buffer {info.event_capacity} "
        f"events / {info.image_capacity} images, clock {info.clk_hz / 1e6:g} MHz")
    mismatches, correct = [], 0
    t0 = time.perf_counter()
    for n in range(n_images):
        r = client.run(*image_events(vectors, n))
        mismatches += check_result(gold, n, r)
        correct += int(r.label == int(vectors["labels"][n]))
    uart_s = time.perf_counter() - t0
    summary = {"images": n_images, "mismatches": mismatches,
               "accuracy": correct / max(n_images, 1),
               "uart_images_per_s": n_images / uart_s if uart_s > 0 else float("inf")}

    if batch:
        total_cycles, done = 0, 0
        while done < n_images:
            client.clear()
            chunk, events = [], 0
            while (done + len(chunk) < n_images and len(chunk) < info.image_capacity):
                ev = image_events(vectors, done + len(chunk))
                if events + len(ev[0]) > info.event_capacity:
                    break
                chunk.append(ev)
                events += len(ev[0])
            if not chunk:
                raise RuntimeError(f"image {done} has more events than the buffer holds")
            # keep each LOAD frame under the 64 KiB payload limit
            for i in range(0, len(chunk), 64):
                client.load(chunk[i:i + 64])
            results, bd = client.batch(len(chunk))
            for i, r in enumerate(results):
                summary["mismatches"] += [d + " (batch)" for d in check_result(gold, done + i, r)]
            total_cycles += bd.cycles
            done += len(chunk)
        summary["batch_cycles"] = total_cycles
        summary["cycles_per_image"] = total_cycles / max(n_images, 1)
        if info.clk_hz:
            summary["chip_images_per_s"] = info.clk_hz * n_images / max(total_cycles, 1)
    return summary


@command
def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m hdl.host", description=__doc__.split("\n\n")[0])
    ap.add_argument("artifacts", help="artifact directory (golden vectors)")
    ap.add_argument("--port", required=True,
                    help="serial port (e.g. /dev/ttyUSB1, or a pyserial URL), or 'sim' for the "
                         "board top simulated in amaranth.sim (slow: small networks)")
    ap.add_argument("--baud", type=int, default=115_200)
    ap.add_argument("--images", type=int, default=100, help="images to send (default 100)")
    ap.add_argument("--no-batch", action="store_true", help="skip the on-chip batch run")
    ap.add_argument("--stress", action="store_true", help="use stress.npz instead of vectors.npz")
    args = ap.parse_args(argv)

    from contract.artifacts import load_artifacts
    art = load_artifacts(args.artifacts)
    vectors = art.stress if args.stress else art.vectors
    if args.port == "sim":
        from .board import SerialLink
        from .core import BS4NNCore
        core = BS4NNCore(art, debug_port=False)
        dut = SerialLink(core, divisor=4, n_in=int(art.widths[0]), event_capacity=2048,
                         image_capacity=16)
        transport = SimTransport(dut, divisor=4, max_cycles=5_000_000)
        print(f"simulating the board top for {'-'.join(map(str, art.widths))} "
              "(UART divisor 4)", flush=True)
    else:
        transport = SerialTransport(args.port, args.baud)
    client = Client(transport)
    s = run_check(client, vectors, art.n_layers, args.images, batch=not args.no_batch)
    for d in s["mismatches"][:20]:
        print(d)
    line = (f"{s['images']} images: {len(s['mismatches'])} mismatches, accuracy "
            f"{s['accuracy']:.2%}, {s['uart_images_per_s']:.1f} images/s over the UART")
    if "cycles_per_image" in s:
        line += f", {s['cycles_per_image']:.1f} cycles/image on chip"
    if "chip_images_per_s" in s:
        line += f" ({s['chip_images_per_s']:,.0f} images/s)"
    print(line)
    return 1 if s["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
