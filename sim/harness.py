"""The Python half of the bench harness (sim/wrapper.py): batches of images, network loads.

A batch is written to the harness's input files, `start` is pulsed and the coroutine sleeps
until `done` (or a timeout); the results, cycle stamps and debug spikes then come back from
the files the harness dumped (sim/batch_files.py). The files lie in the simulator's working
directory, which the runner makes a fresh one per process.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cocotb.clock import Clock
from cocotb.triggers import First, RisingEdge, Timer

from hdl.event_beats import beat_starts
from sim.batch_files import read_hex, split_fields, write_hex
from sim.layout import Unpacker
from sim.wrapper import IMAGE_BITS

PERIOD_NS = 10


def event_payloads(times: np.ndarray, addrs: np.ndarray, fields: dict) -> np.ndarray:
    """One image's events as i_event payload values (int64), `last` set on the final one.

    A core taking K > 1 events per cycle (``more_valid`` in ``fields``: K - 1 bits) gets one
    payload per beat of up to K events of one step (hdl/event_beats.py)."""
    t = np.asarray(times, np.int64)
    a = np.asarray(addrs, np.int64)
    k = 1 + fields["more_valid"][1] if "more_valid" in fields else 1
    starts = beat_starts(t, k)
    sizes = np.diff(np.r_[starts, len(t)])
    last = np.zeros(len(starts), dtype=np.int64)
    last[-1] = 1
    out = (t[starts] << fields["time"][0]) | (a[starts] << fields["addr"][0]) | \
        (last << fields["last"][0])
    for j in range(k - 1):                        # slot j + 1 of each beat that has one
        has = sizes > j + 1
        out[has] |= (a[starts[has] + j + 1] << fields[f"more_addr[{j}]"][0]) | \
            (1 << (fields["more_valid"][0] + j))
    return out


@dataclass
class PassResult:
    """One image's answer from one pass: the o_result payload, the cycles the bench counted,
    the debug spikes (empty in a fast pass), whether its words had X/Z bits and whether the
    batch's spike buffer overflowed."""
    result: dict
    latency: int
    spikes: list = field(default_factory=list)
    x_bits: bool = False
    overflow: bool = False


class Harness:
    """Runs batches of images (and network loads) through the harness."""

    def __init__(self, dut, layouts: dict, timeout_ns: int):
        self.dut, self.timeout_ns = dut, timeout_ns
        self.res_w, self.sp_w = layouts["o_result"]["width"], layouts["o_spike"]["width"]
        self.unpack_res = Unpacker(layouts["o_result"]["fields"])
        self.sp_fields = {k: layouts["o_spike"]["fields"][k] for k in ("layer", "neuron", "time")}

    async def reset(self, full: bool) -> None:
        dut = self.dut
        Clock(dut.clk, PERIOD_NS, unit="ns", impl="gpi").start()
        dut.full.value = int(full)
        dut.debug.value = 0
        dut.start.value = 0
        dut.rst.value = 1
        for _ in range(4):
            await RisingEdge(dut.clk)
        dut.rst.value = 0
        await RisingEdge(dut.clk)

    async def load(self, words: list[int]) -> bool:
        """Stream one network's load words on i_load (runtime weights); False on a timeout."""
        dut = self.dut
        write_hex("ld.hex", words)
        dut.n_load.value = len(words)
        dut.load_go.value = 1
        await RisingEdge(dut.clk)
        dut.load_go.value = 0
        timeout = Timer(self.timeout_ns, unit="ns")
        return await First(RisingEdge(dut.load_done), timeout) is not timeout

    async def run_batch(self, payloads: list, debug: bool, idle_t: int = 0, stall_t: int = 0,
                        seed: int = 1, randomised: list[bool] | None = None
                        ) -> list[PassResult] | None:
        """Images (their payload arrays) through the harness back to back: one PassResult
        per image, or None on a timeout. Random idle cycles (threshold ``idle_t`` of 256)
        and back-pressure (``stall_t``) go to the images ``randomised`` flags (all by default)."""
        dut, k = self.dut, len(payloads)
        flags = [True] * k if randomised is None else randomised
        events = np.concatenate(payloads)
        write_hex("ev.hex", events)
        write_hex("cfg.hex", [(stall_t << 8 | idle_t) if r else 0 for r in flags])
        dut.n_images.value = k
        dut.n_events.value = len(events)
        dut.debug.value = int(debug)
        dut.seed.value = seed
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        timeout = Timer(self.timeout_ns * k, unit="ns")
        if await First(RisingEdge(dut.done), timeout) is timeout:
            return None
        out, x_out = read_hex("out.hex")
        spikes, x_sp = self._spikes(k)
        overflow = bool(int(dut.sp_overflow.value))
        m32, res_w = (1 << 32) - 1, self.res_w
        return [PassResult(self.unpack_res(w & ((1 << res_w) - 1)),
                           ((w >> (res_w + 32)) & m32) - ((w >> res_w) & m32),
                           spikes[i] if debug else [], x_out[i] or x_sp[i], overflow)
                for i, w in enumerate(out)]

    def _spikes(self, k: int) -> tuple[list[list], list[bool]]:
        """Per image of the batch, its debug spikes [(layer, neuron, time), ...] in order,
        and whether any of them had X/Z bits."""
        spikes, x_sp = [[] for _ in range(k)], [False] * k
        if not self.dut.sp_count.value.to_unsigned():
            return spikes, x_sp
        words, unknown = read_hex("sp.hex")
        image, payload = split_fields(words, self.sp_w)
        image &= (1 << IMAGE_BITS) - 1
        cols = [(payload >> off) & ((1 << w) - 1) for off, w in self.sp_fields.values()]
        for i, s in zip(image.tolist(), zip(*(c.tolist() for c in cols))):
            spikes[i].append(s)
        for i, u in zip(image.tolist(), unknown):
            x_sp[i] = x_sp[i] or u
        return spikes, x_sp
