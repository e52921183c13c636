"""cocotb test: many networks of one shape through one runtime-weights core (docs/fuzz.md).

Run by sim/fuzz.py through ``Bench.run_job`` (never imported by hand); the job in
$BS4NN_BENCH lists artifact directories ("cases"). Per case: the network goes in through
``i_load`` (hdl/weight_loader.py), then every image (test vectors and stress) runs a fast
pass in early and in full mode (decision, output times and cycle count against
hdl/cycle_model.py) and, on every ``debug_every``-th image, a debug pass in full mode (every
spike of every layer). The report lists each case's failing images.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

import cocotb

from contract.artifacts import load_artifacts
from contract.files import atomic_path
from hdl.core import CoreNetwork
from hdl.cycle_model import predict_cycles
from hdl.weight_loader import LOAD_BITS, load_words
from sim.harness import PERIOD_NS, Harness, event_payloads
from sim.scoreboard import check_image

MODES = ("early", "full")


def batches(images: list, payloads: dict, limits: dict):
    """``images`` in runs that fit the harness (``limits``: images and events per batch)."""
    part, n_ev = [], 0
    for im in images:
        if part and (len(part) >= limits["images"] or n_ev + len(payloads[im]) > limits["events"]):
            yield part
            part, n_ev = [], 0
        part.append(im)
        n_ev += len(payloads[im])
    if part:
        yield part


async def run_case(harness: Harness, art, job: dict) -> list[dict]:
    """Every image of ``art`` in both modes; the failures as [{set, index, messages}]."""
    dut, timing = harness.dut, job["timing"]
    ev_f = job["layouts"]["i_event"]["fields"]
    words = load_words(CoreNetwork.from_artifacts(art))
    if job.get("inject_fault"):     # the shrinker's self-test: input 0's layer-0 weights flipped
        words[art.n_layers] ^= (1 << LOAD_BITS) - 1
    if not await harness.load(words):
        return [{"set": "load", "index": 0, "messages": ["the core did not take the load"]}]
    images = [(s, n) for s in ("vectors", "stress")
              for n in range(int(art.manifest["vectors"][s]["count"]))]
    events = {im: art.events(*im) for im in images}
    payloads = {im: event_payloads(*events[im], ev_f) for im in images}
    bad: dict[tuple, list[str]] = {}
    for mode in MODES:
        dut.full.value = int(mode == "full")
        got = []
        for part in batches(images, payloads, job["batch"]):
            one = await harness.run_batch([payloads[im] for im in part], False)
            if one is None:
                return [{"set": "batch", "index": 0, "messages": [f"{mode} batch timed out"]}]
            got += one
        for (s, n), r in zip(images, got):
            gold = getattr(art, s)
            msgs = check_image(f"{s}#{n} ({mode})", gold, n, r.result, [], mode, debug=False).messages
            want = predict_cycles(events[(s, n)][0], [gold[f"spikes_{l}"][n]
                                                      for l in range(art.n_layers)],
                                  full=mode == "full", timing=timing)
            if r.result["cycles"] != want or r.latency != want:
                msgs.append(f"{s}#{n} ({mode}): {r.result['cycles']} cycles (bench counted "
                            f"{r.latency}), hdl/cycle_model.py predicts {want}")
            if msgs:
                bad.setdefault((s, n), []).extend(msgs)
    dut.full.value = 1
    for k, (s, n) in enumerate(images):
        if k % job.get("debug_every", 1):
            continue
        got = await harness.run_batch([payloads[(s, n)]], True)
        msgs = (["debug pass timed out"] if got is None else
                check_image(f"{s}#{n} (debug)", getattr(art, s), n, got[0].result,
                            got[0].spikes, "full", debug=True).messages)
        if msgs:
            bad.setdefault((s, n), []).extend(msgs)
    return [{"set": s, "index": n, "messages": m} for (s, n), m in bad.items()]


@cocotb.test()
async def fuzz(dut):
    with open(os.environ["BS4NN_BENCH"]) as f:
        job = json.load(f)
    harness = Harness(dut, job["layouts"], int(job.get("timeout_cycles", 200_000)) * PERIOD_NS)
    await harness.reset(False)
    bar = None
    if job.get("progress", True):
        from tqdm import tqdm
        bar = tqdm(total=len(job["cases"]), unit="net", file=sys.stderr, mininterval=1.0,
                   desc=job.get("desc", "fuzz"))
    records = []
    for case in job["cases"]:
        art = load_artifacts(case)
        fails = await run_case(harness, art, job)
        n_img = sum(int(art.manifest["vectors"][s]["count"]) for s in ("vectors", "stress"))
        records.append({"case": case, "images": n_img, "failures": fails})
        if job.get("progress_file"):
            with open(job["progress_file"], "a") as f:
                f.write(f"{case}\n")
        if bar is not None:
            bar.update(1)
            n_bad = sum(bool(r["failures"]) for r in records)
            if n_bad:
                bar.set_postfix(failing=n_bad, refresh=False)
    if bar is not None:
        bar.close()
    sim_cycles = dut.now.value.to_unsigned()
    with atomic_path(job["report"]) as tmp:
        tmp.write_text(json.dumps({"records": records, "sim_cycles": sim_cycles}))
    n_bad = sum(bool(r["failures"]) for r in records)
    assert n_bad == 0 or job.get("expect_failures"), f"{n_bad} failing networks"
