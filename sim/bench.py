"""cocotb test: drive golden-vector images through the core and score every one.

Run by sim.build (never imported by hand): the runner passes the path of a JSON job file in
$BS4NN_BENCH (see sim/build.py `Bench.run`). The driver packs a batch of images' events into
the harness's `ev_buf` (sim/wrapper.py), pulses `start` and sleeps until `done`; the monitor
then reads the results, the debug spikes and the cycle stamps, and the scoreboard
(sim/scoreboard.py) compares them with the golden vectors. The fast pass (debug 0, no
randomisation) runs in batches of up to `batch.images` images / `batch.events` events;
the debug pass (every spike) runs one image at a time, with random idle cycles and
back-pressure on every `random.every`-th one.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import dataclass, field

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import First, RisingEdge, Timer

from contract.artifacts import load_artifacts
from contract.files import atomic_path
from sim.layout import Unpacker
from sim.scoreboard import check_image

PERIOD_NS = 10
LOAD_BITS = 32          # hdl/weight_loader.py


def event_payloads(times: np.ndarray, addrs: np.ndarray, fields: dict) -> np.ndarray:
    """One image's events as i_event payload values (int64), `last` set on the final one."""
    t = np.asarray(times, np.int64)
    a = np.asarray(addrs, np.int64)
    last = np.zeros(len(t), dtype=np.int64)
    last[-1] = 1
    return (t << fields["time"][0]) | (a << fields["addr"][0]) | (last << fields["last"][0])


@dataclass
class PassResult:
    """One image's answer from one pass: the o_result payload, the cycles the bench counted,
    the debug spikes (empty in a fast pass) and the batch's X/Z and overflow flags."""
    result: dict
    latency: int
    spikes: list = field(default_factory=list)
    x_bits: bool = False
    overflow: bool = False


def pack_words(values: np.ndarray, width: int) -> int:
    """values[k] at bits k*width .. k*width+width-1 of one integer (width <= 63)."""
    bits = (values[:, None] >> np.arange(width)) & 1                      # (n, width) LSB first
    return int.from_bytes(np.packbits(bits.astype(np.uint8).ravel(), bitorder="little").tobytes(),
                          "little")


def read_int(handle, low_bits: int | None = None) -> tuple[int, bool]:
    """A signal's value as an int; X/Z read as 0 and reported (only among the low_bits)."""
    v = handle.value
    try:
        return v.to_unsigned(), False
    except ValueError:
        s = str(v)
        used = s[len(s) - low_bits:] if low_bits is not None else s
        return int("".join(c if c in "01" else "0" for c in s), 2), any(c not in "01" for c in used)

class Harness:
    """The Python half of the harness (sim/wrapper.py): batches of images, network loads."""

    def __init__(self, dut, layouts: dict, timeout_ns: int):
        self.dut, self.timeout_ns = dut, timeout_ns
        self.ev_w = layouts["i_event"]["width"]
        self.res_w, self.sp_w = layouts["o_result"]["width"], layouts["o_spike"]["width"]
        self.unpack_res = Unpacker(layouts["o_result"]["fields"])
        self.unpack_sp = Unpacker(layouts["o_spike"]["fields"])

    async def reset(self, full: bool) -> None:
        dut = self.dut
        Clock(dut.clk, PERIOD_NS, unit="ns", impl="gpi").start()
        dut.full.value = int(full)
        dut.debug.value = 0
        dut.start.value = 0
        dut.idle_thresh.value = 0
        dut.stall_thresh.value = 0
        dut.rst.value = 1
        for _ in range(4):
            await RisingEdge(dut.clk)
        dut.rst.value = 0
        await RisingEdge(dut.clk)

    async def load(self, words: list[int]) -> bool:
        """Stream one network's load words on i_load (runtime weights); False on a timeout."""
        dut = self.dut
        dut.ld_buf.value = pack_words(np.asarray(words, np.int64), LOAD_BITS)
        dut.n_load.value = len(words)
        dut.load_go.value = 1
        await RisingEdge(dut.clk)
        dut.load_go.value = 0
        timeout = Timer(self.timeout_ns, unit="ns")
        return await First(RisingEdge(dut.load_done), timeout) is not timeout

    async def run_batch(self, payloads: list, debug: bool, idle_t: int = 0, stall_t: int = 0,
                        seed: int = 1) -> list[PassResult] | None:
        """Images (their payload arrays) through the harness back to back: one PassResult
        per image (the batch's debug spikes go with each), or None on a timeout."""
        dut, res_w, sp_w = self.dut, self.res_w, self.sp_w
        dut.ev_buf.value = pack_words(np.concatenate(payloads), self.ev_w)
        dut.n_images.value = len(payloads)
        dut.debug.value = int(debug)
        dut.idle_thresh.value = idle_t
        dut.stall_thresh.value = stall_t
        dut.seed.value = seed
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        timeout = Timer(self.timeout_ns * len(payloads), unit="ns")
        if await First(RisingEdge(dut.done), timeout) is timeout:
            return None
        k = len(payloads)
        res_all, x_res = read_int(dut.res_buf, k * res_w)
        tf, _ = read_int(dut.tf_buf)
        tr, _ = read_int(dut.tr_buf)
        m32, mres = (1 << 32) - 1, (1 << res_w) - 1
        spikes, x_sp = [], False
        n_sp = dut.sp_count.value.to_unsigned()
        if n_sp:
            buf, x_sp = read_int(dut.sp_buf, n_sp * sp_w)
            mask = (1 << sp_w) - 1
            for i in range(n_sp):
                s = self.unpack_sp((buf >> (i * sp_w)) & mask)
                spikes.append((s["layer"], s["neuron"], s["time"]))
        overflow = bool(int(dut.sp_overflow.value))
        return [PassResult(self.unpack_res((res_all >> (i * res_w)) & mres),
                           ((tr >> (32 * i)) & m32) - ((tf >> (32 * i)) & m32),
                           spikes if debug else [], x_res or x_sp, overflow) for i in range(k)]


@cocotb.test()
async def regress(dut):
    with open(os.environ["BS4NN_BENCH"]) as f:
        job = json.load(f)
    lay = job["layouts"]
    ev_f = lay["i_event"]["fields"]
    art = load_artifacts(job["artifacts"])
    mode = job["mode"]
    rnd_cfg = job.get("random", {})
    every = int(rnd_cfg.get("every", 0))
    idle_t = min(255, round(256 * float(rnd_cfg.get("idle", 0.0))))
    stall_t = min(255, round(256 * float(rnd_cfg.get("stall", 0.0))))
    rng = random.Random(int(job.get("seed", 1)))
    timeout_ns = int(job.get("timeout_cycles", 200_000)) * PERIOD_NS
    keep = {tuple(x) for x in job.get("keep_spikes", [])}
    n_layers = art.n_layers

    harness = Harness(dut, lay, timeout_ns)
    await harness.reset(mode == "full")
    if job.get("load") is not None:                 # runtime weights: the network first
        assert await harness.load(job["load"]), "the core did not take the network's load"
    batch_cfg = job.get("batch", {"images": 1, "events": 10 ** 9})

    async def run_batch(payloads: list, debug: bool, randomised: bool) -> list[PassResult] | None:
        return await harness.run_batch(payloads, debug, idle_t if randomised else 0,
                                       stall_t if randomised else 0, rng.getrandbits(32) | 1)

    fast_cache: dict[int, PassResult] = {}

    async def fast_result(k: int):
        """Image k's fast-pass result, running the batch that starts at k if needed."""
        if k not in fast_cache:
            chunk, n_ev = [], 0
            for j in range(k, len(job["images"])):
                set_name, n = job["images"][j]
                pl = event_payloads(*art.events(set_name, n), ev_f)
                if chunk and (len(chunk) >= batch_cfg["images"]
                              or n_ev + len(pl) > batch_cfg["events"]):
                    break
                chunk.append(pl)
                n_ev += len(pl)
            got = await run_batch(chunk, False, False)
            if got is None:
                return None
            fast_cache.update((k + i, r) for i, r in enumerate(got))
        return fast_cache.pop(k)

    predict = None
    if job.get("cycle_model", True):
        try:
            from hdl.cycle_model import predict_cycles as predict
        except ImportError:
            predict = None

    bar = None
    if job.get("progress", True):
        from tqdm import tqdm
        bar = tqdm(total=len(job["images"]), unit="img", file=sys.stderr, mininterval=1.0,
                   desc=f"{job.get('simulator', 'sim')} {mode}")
    passes = job.get("passes", ["fast", "debug"])
    debug_every = max(1, int(job.get("debug_every", 1)))
    max_wall = job.get("max_wall_s")
    n_debug, stopped = 0, None
    records, n_bad, n_cyc_bad, wall0 = [], 0, 0, time.perf_counter()
    now0 = dut.now.value.to_unsigned()
    for k, (set_name, n) in enumerate(job["images"]):
        if max_wall is not None and time.perf_counter() - wall0 > max_wall:
            stopped = f"wall-clock limit of {max_wall} s reached after {k} of {len(job['images'])} images"
            dut._log.warning(stopped)
            break
        gold = getattr(art, set_name)
        ev_times, ev_addrs = art.events(set_name, n)
        payloads = event_payloads(ev_times, ev_addrs, ev_f)
        count = len(payloads)
        name = f"{set_name}#{n}"
        rec = {"set": set_name, "index": n, "n_events": count}
        messages, cyc_messages, first_part, hw_spikes = [], [], None, None
        for p in passes:
            if p == "debug" and k % debug_every:
                continue
            randomised = p == "debug" and every > 0 and n_debug % every == 0
            n_debug += p == "debug"
            if p == "fast":
                got = await fast_result(k)
            else:
                one = await run_batch([payloads], True, randomised)
                got = None if one is None else one[0]
            if got is None:
                messages.append(f"{name} ({p} pass): no result within "
                                f"{job.get('timeout_cycles', 200_000)} cycles per image "
                                f"({dut.ev_taken.value.to_unsigned()} events of the batch "
                                f"accepted)")
                break
            res, spikes, latency = got.result, got.spikes, got.latency
            chk = check_image(name if p == "fast" else f"{name} (debug pass)", gold, n, res,
                              spikes, mode, debug=p == "debug")
            if got.x_bits:
                chk._add(f"{name} ({p} pass): X/Z bits in the o_result or o_spike payload", None)
            if got.overflow:
                chk._add(f"{name}: more debug spikes than neurons (harness buffer overflowed)", None)
            messages += chk.messages
            if chk.first_part is not None:
                first_part = chk.first_part if first_part is None else min(first_part, chk.first_part)
            if chk.hw_spikes is not None:
                hw_spikes = chk.hw_spikes
            rec.update({"label": res["label"], "hw_times": list(res["times"])})
            rec[f"cycles_{p}"] = res["cycles"]
            rec[f"latency_{p}"] = latency
            if p == "debug":
                rec["randomised"] = randomised
                rec["n_spikes"] = len(spikes)
            if p == "fast" and latency != res["cycles"]:
                cyc_messages.append(f"{name} ({p} pass): core reports {res['cycles']} cycles, "
                                    f"the bench counted {latency}")
            if p == "fast" and predict is not None:
                want = predict(ev_times,
                               [gold[f"spikes_{l}"][n] for l in range(n_layers)],
                               full=mode == "full", timing=job["timing"])
                rec["cycles_predicted"] = int(want)
                if want != res["cycles"]:
                    cyc_messages.append(f"{name}: {res['cycles']} cycles, hdl/cycle_model.py "
                                        f"predicts {want}")
        rec["ok"] = not messages
        rec["cycles_ok"] = not cyc_messages
        if messages:
            n_bad += 1
            rec["messages"] = messages
            rec["first_part"] = first_part
            for m in messages[:6]:
                dut._log.error(m)
        if cyc_messages:
            n_cyc_bad += 1
            rec["cycle_messages"] = cyc_messages
            if n_cyc_bad <= 5:
                for m in cyc_messages:
                    dut._log.warning(m)
        if (messages or (set_name, n) in keep) and hw_spikes is not None:
            rec["hw_spikes"] = [r.tolist() for r in hw_spikes]
        records.append(rec)
        if bar is not None:
            bar.update(1)
            if n_bad or n_cyc_bad:
                bar.set_postfix(mismatches=n_bad, cycle_diffs=n_cyc_bad, refresh=False)
        if n_bad >= int(job.get("max_failures", 50)) or messages and "no result" in messages[-1]:
            dut._log.error(f"stopping after {n_bad} mismatching images")
            break
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - wall0
    sim_cycles = dut.now.value.to_unsigned() - now0
    with atomic_path(job["report"]) as tmp:
        tmp.write_text(json.dumps({"records": records, "wall_s": wall, "sim_cycles": sim_cycles,
                                   "stopped": stopped, "requested": len(job["images"])}))
    bad = [m for r in records for m in r.get("messages", [])[:1]]
    assert n_bad == 0, f"{n_bad} of {len(records)} images mismatched (first: {bad[0]})"
    if job.get("strict_cycles", False):
        cyc = [m for r in records for m in r.get("cycle_messages", [])[:1]]
        assert n_cyc_bad == 0, f"{n_cyc_bad} images with a cycle count difference (first: {cyc[0]})"
