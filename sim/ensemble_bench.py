"""cocotb test: golden-vector images through a hardware ensemble (hdl/ensemble.py).

Run by sim.ensemble (never by hand), on the harness of sim/wrapper.py like sim/bench.py.
Per image and pass, every member's result (and, in a debug pass, every member's spikes) is
scored against that member's golden vectors and cycle model by the single-core ``Checker``;
then the ensemble's own answer: the vote against the majority of the members' golden
decisions (ties: lowest class), its vote count, and its cycle count against the bench's
count and ``hdl.ensemble.ensemble_cycles`` of the members' predicted counts.
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np

from contract.artifacts import load_artifacts
from contract.files import atomic_path
from contract.numerics import majority_vote
from hdl.ensemble import ensemble_cycles
from sim.bench import Checker, run_images
from sim.harness import PERIOD_NS, Harness, PassResult, event_payloads
from sim.layout import Unpacker

MEMBERS = "members["


def ensemble_unpacker(fields: dict, n_members: int):
    """o_result payload -> {"label", "votes", "cycles", "members": [member result, ...]}."""
    top = Unpacker({k: v for k, v in fields.items() if not k.startswith(MEMBERS)})
    per = [Unpacker({k[len(f"{MEMBERS}{j}]"):]: v for k, v in fields.items()
                     if k.startswith(f"{MEMBERS}{j}]")}) for j in range(n_members)]

    def unpack(x: int) -> dict:
        return {**top(x), "members": [u(x) for u in per]}
    return unpack


def model_vote(labels: list[int], n_out: int) -> tuple[int, int]:
    """The majority of the members' decisions on one image (``contract.numerics.
    majority_vote``: the lowest class on a tie) and its count."""
    voted, votes = majority_vote(np.asarray(labels, np.int64)[:, None], n_out)
    return int(voted[0]), int(votes[0].max())


@cocotb.test()
async def regress(dut):
    with open(os.environ["BS4NN_BENCH"]) as f:
        job = json.load(f)
    lay, timing = job["layouts"], job["timing"]
    arts = [load_artifacts(p) for p in job["members"]]
    n_out = int(arts[0].widths[-1])
    harness = Harness(dut, {**lay, "o_result": {**lay["o_result"], "fields": {}}},
                      int(job.get("timeout_cycles", 200_000)) * PERIOD_NS)
    harness.unpack_res = ensemble_unpacker(lay["o_result"]["fields"], len(arts))
    harness.sp_fields = {k: lay["o_spike"]["fields"][k] for k in ("member", "layer", "neuron", "time")}
    await harness.reset(job["mode"] == "full")
    checkers = [Checker(dict(job, timing=t), a, dut._log) for a, t in zip(arts, timing["members"])]
    images = [(s, int(n)) for s, n in job["images"]]
    events = [arts[0].events(s, n) for s, n in images]      # the members share the test set
    payloads = [event_payloads(t, a, lay["i_event"]["fields"]) for t, a in events]
    records, n_bad = [], 0

    def score(k, by_pass, randomised):
        nonlocal n_bad
        (set_name, n), name = images[k], f"{images[k][0]}#{images[k][1]}"
        rec = {"set": set_name, "index": n, "n_events": len(events[k][0]), "members": []}
        messages = []
        for j, chk in enumerate(checkers):
            mine = {p: PassResult(r.result["members"][j], r.result["members"][j]["cycles"],
                                  [s[1:] for s in r.spikes if s[0] == j], r.x_bits, r.overflow)
                    if isinstance(r, PassResult) else r for p, r in by_pass.items()}
            messages += [f"member {j}: {msg}" for msg in
                         chk.image(set_name, n, events[k][0], mine, randomised, events[k][1])]
            rec["members"].append(chk.records.pop())
        gold = [int(getattr(a, set_name)["label"][n]) for a in arts]
        want, want_n = model_vote(gold, n_out)
        rec.update(model_vote=want, model_votes=want_n)
        for p, r in by_pass.items():
            if not isinstance(r, PassResult):
                break
            res = r.result
            rec.update({"label": res["label"], "votes": res["votes"], f"cycles_{p}": res["cycles"],
                        f"latency_{p}": r.latency})
            if (res["label"], res["votes"]) != (want, want_n):
                messages.append(f"{name} ({p} pass): vote {res['label']} ({res['votes']} of "
                                f"{len(arts)}), the members' model decisions {gold} vote {want} "
                                f"({want_n})")
            if p == "fast":
                pred = [m.get("cycles_predicted") for m in rec["members"]]
                if None not in pred:
                    rec["cycles_predicted"] = ensemble_cycles(pred, timing)
                if r.latency != res["cycles"] or rec.get("cycles_predicted", res["cycles"]) \
                        != res["cycles"]:
                    rec.setdefault("cycle_messages", []).append(
                        f"{name}: the ensemble reports {res['cycles']} cycles, the bench counted "
                        f"{r.latency}, the model predicts {rec.get('cycles_predicted')}")
        rec["ok"] = not messages and all(m["ok"] for m in rec["members"])
        rec["cycles_ok"] = "cycle_messages" not in rec and all(m["cycles_ok"] for m in rec["members"])
        if messages:
            rec["messages"] = messages
            for msg in messages[:6]:
                dut._log.error(msg)
        n_bad += not rec["ok"]
        records.append(rec)
        return messages, n_bad, {"mismatches": n_bad} if n_bad else None

    run = await run_images(dut, job, harness, images, payloads, score)
    with atomic_path(job["report"]) as tmp:
        tmp.write_text(json.dumps({"records": records, **run, "requested": len(images)}))
    bad = [m for r in records for m in r.get("messages", [])[:1]]
    assert n_bad == 0, f"{n_bad} of {len(records)} images mismatched (first: {bad[0]})"
    if job.get("strict_cycles", False):
        cyc = [r for r in records if not r["cycles_ok"]]
        assert not cyc, f"{len(cyc)} images with a cycle count difference"
