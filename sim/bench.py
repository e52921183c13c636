"""cocotb test: drive golden-vector images through the core and score every one.

Run by sim.build (never imported by hand): the runner passes the path of a JSON job file in
$BS4NN_BENCH (see sim/build.py `Bench.run`). The images go through the harness
(sim/wrapper.py, sim/harness.py) in batches of up to `batch.images` images /
`batch.events` events; each batch runs a fast pass (debug 0, no randomisation) and a debug
pass (every spike; on every `debug_every`-th image, with random idle cycles and
back-pressure on every `random.every`-th of those), then the scoreboard
(sim/scoreboard.py) compares every image with the golden vectors.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time

import cocotb

from contract.artifacts import load_artifacts
from contract.files import atomic_path
from sim.harness import PERIOD_NS, Harness, PassResult, event_payloads
from sim.scoreboard import check_image


def chunks(images: list, sizes: list[int], limits: dict):
    """Indices of ``images`` in runs that fit one batch (``limits``: images, events)."""
    part, n_ev = [], 0
    for k, size in enumerate(sizes):
        if part and (len(part) >= limits["images"] or n_ev + size > limits["events"]):
            yield part
            part, n_ev = [], 0
        part.append(k)
        n_ev += size
    if part:
        yield part


class Checker:
    """The per-image scoring of both passes: records and the messages of a run."""

    def __init__(self, job: dict, art, log):
        self.job, self.art, self.log = job, art, log
        self.mode, self.n_layers = job["mode"], art.n_layers
        self.keep = {tuple(x) for x in job.get("keep_spikes", [])}
        self.predict = None
        if job.get("cycle_model", True):
            try:
                from hdl.cycle_model import predict_cycles
                self.predict = predict_cycles
            except ImportError:
                pass
        self.records, self.n_bad, self.n_cyc_bad = [], 0, 0

    def image(self, set_name: str, n: int, ev_times, got: dict, randomised: bool,
              ev_addrs=None) -> list[str]:
        """Score image n of ``set_name`` from its pass results ``got`` ({pass: PassResult, or
        the number of events its batch had accepted when it timed out}); append its record;
        return its messages."""
        gold, mode, job = getattr(self.art, set_name), self.mode, self.job
        name = f"{set_name}#{n}"
        rec = {"set": set_name, "index": n, "n_events": len(ev_times)}
        messages, cyc_messages, first_part, hw_spikes = [], [], None, None
        for p, r in got.items():
            if not isinstance(r, PassResult):
                messages.append(f"{name} ({p} pass): no result within "
                                f"{job.get('timeout_cycles', 200_000)} cycles per image "
                                f"({r} events of the batch accepted)")
                break
            res, latency = r.result, r.latency
            chk = check_image(name if p == "fast" else f"{name} (debug pass)", gold, n, res,
                              r.spikes, mode, debug=p == "debug",
                              shapes=[x["out_shape"] for x in self.art.layers])
            if r.x_bits:
                chk._add(f"{name} ({p} pass): X/Z bits in the o_result or o_spike payload", None)
            if r.overflow:
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
                rec["n_spikes"] = len(r.spikes)
            if p == "fast" and latency != res["cycles"]:
                cyc_messages.append(f"{name} ({p} pass): core reports {res['cycles']} cycles, "
                                    f"the bench counted {latency}")
            if p == "fast" and self.predict is not None:
                want = self.predict(ev_times, [gold[f"spikes_{l}"][n] for l in range(self.n_layers)],
                                    full=mode == "full", timing=job["timing"], ev_addrs=ev_addrs)
                rec["cycles_predicted"] = int(want)
                if want != res["cycles"]:
                    cyc_messages.append(f"{name}: {res['cycles']} cycles, hdl/cycle_model.py "
                                        f"predicts {want}")
        rec["ok"] = not messages
        rec["cycles_ok"] = not cyc_messages
        if messages:
            self.n_bad += 1
            rec["messages"] = messages
            rec["first_part"] = first_part
            for m in messages[:6]:
                self.log.error(m)
        if cyc_messages:
            self.n_cyc_bad += 1
            rec["cycle_messages"] = cyc_messages
            if self.n_cyc_bad <= 5:
                for m in cyc_messages:
                    self.log.warning(m)
        if (messages or (set_name, n) in self.keep) and hw_spikes is not None:
            rec["hw_spikes"] = [x.tolist() for x in hw_spikes]
        self.records.append(rec)
        return messages


async def run_images(dut, job: dict, harness: Harness, images: list, payloads: list, score) -> dict:
    """The batch loop of a regression: images [(set, n)] with their i_event ``payloads``
    through ``harness`` in batches, a fast and/or a debug pass each (as the job says), then
    ``score(k, {pass: PassResult or events accepted}, randomised)`` per image k, which
    returns (messages, failures so far). Returns {"wall_s", "sim_cycles", "stopped"}."""
    rnd_cfg = job.get("random", {})
    every = int(rnd_cfg.get("every", 0))
    idle_t = min(255, round(256 * float(rnd_cfg.get("idle", 0.0))))
    stall_t = min(255, round(256 * float(rnd_cfg.get("stall", 0.0))))
    rng = random.Random(int(job.get("seed", 1)))
    limits = job.get("batch", {"images": 1, "events": 10 ** 9})
    bar = None
    if job.get("progress", True):
        from tqdm import tqdm
        bar = tqdm(total=len(images), unit="img", file=sys.stderr, mininterval=1.0,
                   desc=f"{job.get('simulator', 'sim')} {job['mode']}")
    passes = job.get("passes", ["fast", "debug"])
    debug_every = max(1, int(job.get("debug_every", 1)))
    max_wall, max_failures = job.get("max_wall_s"), int(job.get("max_failures", 50))
    n_debug, stopped, done, wall0 = 0, None, False, time.perf_counter()
    now0 = dut.now.value.to_unsigned()
    for part in chunks(images, [len(p) for p in payloads], limits):
        if max_wall is not None and time.perf_counter() - wall0 > max_wall:
            stopped = f"wall-clock limit of {max_wall} s reached after {part[0]} of {len(images)} images"
            dut._log.warning(stopped)
            break
        got, randomised = {k: {} for k in part}, {k: False for k in part}
        for p in passes:
            ks = [k for k in part if p == "fast" or k % debug_every == 0]
            if not ks:
                continue
            if p == "debug":
                for k in ks:
                    randomised[k] = every > 0 and n_debug % every == 0
                    n_debug += 1
            res = await harness.run_batch([payloads[k] for k in ks], p == "debug", idle_t, stall_t,
                                          rng.getrandbits(32) | 1, [randomised[k] for k in ks])
            if res is None:         # the image in progress hung: report it and stop
                stuck = ks[min(dut.img_done.value.to_unsigned(), len(ks) - 1)]
                got = {stuck: {**got[stuck], p: dut.ev_taken.value.to_unsigned()}}
                break
            for k, r in zip(ks, res):
                got[k][p] = r
        for k, by_pass in got.items():
            messages, n_bad, postfix = score(k, by_pass, randomised[k])
            if bar is not None:
                bar.update(1)
                if postfix:
                    bar.set_postfix(**postfix, refresh=False)
            if n_bad >= max_failures or messages and "no result" in messages[-1]:
                dut._log.error(f"stopping after {n_bad} mismatching images")
                done = True
                break
        if done:
            break
    if bar is not None:
        bar.close()
    return {"wall_s": time.perf_counter() - wall0,
            "sim_cycles": dut.now.value.to_unsigned() - now0, "stopped": stopped}


@cocotb.test()
async def regress(dut):
    with open(os.environ["BS4NN_BENCH"]) as f:
        job = json.load(f)
    lay = job["layouts"]
    ev_f = lay["i_event"]["fields"]
    art = load_artifacts(job["artifacts"])
    harness = Harness(dut, lay, int(job.get("timeout_cycles", 200_000)) * PERIOD_NS)
    await harness.reset(job["mode"] == "full")
    if job.get("load") is not None:                 # runtime weights: the network first
        assert await harness.load(job["load"]), "the core did not take the network's load"
    checker = Checker(job, art, dut._log)
    images = [(s, int(n)) for s, n in job["images"]]
    events = [art.events(s, n) for s, n in images]
    payloads = [event_payloads(t, a, ev_f) for t, a in events]

    def score(k, by_pass, randomised):
        messages = checker.image(*images[k], events[k][0], by_pass, randomised, events[k][1])
        postfix = ({"mismatches": checker.n_bad, "cycle_diffs": checker.n_cyc_bad}
                   if checker.n_bad or checker.n_cyc_bad else None)
        return messages, checker.n_bad, postfix

    run = await run_images(dut, job, harness, images, payloads, score)
    records = checker.records
    with atomic_path(job["report"]) as tmp:
        tmp.write_text(json.dumps({"records": records, **run, "requested": len(images)}))
    bad = [m for r in records for m in r.get("messages", [])[:1]]
    assert checker.n_bad == 0, f"{checker.n_bad} of {len(records)} images mismatched (first: {bad[0]})"
    if job.get("strict_cycles", False):
        cyc = [m for r in records for m in r.get("cycle_messages", [])[:1]]
        assert checker.n_cyc_bad == 0, \
            f"{checker.n_cyc_bad} images with a cycle count difference (first: {cyc[0]})"
