"""Host side of the serial link: send golden-vector images to a board, check every answer.

    python -m hdl.host --port /dev/ttyUSB1 ARTIFACT_DIR [--images N] [--baud B]
    python -m hdl.host --port sim artifacts/ice64 --images 4      # against the simulated board

Runs N images one at a time (RUN: latency over the UART), then the same images again as
on-chip batches (LOAD + BATCH: the core's own throughput from its cycle count), and checks
each RESULT against the golden vectors (label, decision step, flags, output spike times).
The transports and the protocol client are ``hdl/link_client.py``'s.
"""

import sys
import time

import numpy as np

from contract.cli import Parser, command
from contract.errors import UsageError
from contract.numerics import expected_times

from .link_client import Client, SerialTransport, SimTransport

__all__ = ["SerialTransport", "SimTransport", "Client", "golden_results", "check_result",
           "run_check", "main"]


def golden_results(vectors, n_layers):
    """Expected RESULT fields per image: dict of arrays label, step, tie, no_spike, times.

    The core runs in early mode (``full`` = 0): the output times it reports are
    ``contract.numerics.expected_times`` of early mode (docs/numerics.md, "Early decisions").
    """
    spikes = np.asarray(vectors[f"spikes_{n_layers - 1}"], dtype=np.int64)   # (N, N_out)
    step = np.asarray(vectors["step"], dtype=np.int64)
    times = np.array([expected_times(s, int(t), n_layers - 1, n_layers, "early")
                      for s, t in zip(spikes, step)], dtype=np.int64).reshape(spikes.shape)
    return {"label": np.asarray(vectors["label"], dtype=np.int64), "step": step,
            "tie": np.asarray(vectors["tie"], dtype=bool),
            "no_spike": np.asarray(vectors["no_spike"], dtype=bool), "times": times}


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


def run_check(client, art, n_images, *, which="vectors", batch=True, log=print):
    """RUN each image of ``art``'s ``which`` vectors ('vectors' or 'stress'), then the same
    images as on-chip batches; returns a summary dict."""
    vectors = getattr(art, which)
    gold = golden_results(vectors, art.n_layers)
    n_images = min(n_images, len(gold["label"]))
    info = client.info()
    log(f"board: {info.n_in} inputs, {info.n_out} outputs, buffer {info.event_capacity} "
        f"events / {info.image_capacity} images, clock {info.clk_hz / 1e6:g} MHz")
    mismatches, correct = [], 0
    t0 = time.perf_counter()
    for n in range(n_images):
        r = client.run(*art.events(which, n))
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
                ev = art.events(which, done + len(chunk))
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
    ap = Parser(prog="python -m hdl.host", description=__doc__.split("\n\n")[0])
    ap.add_argument("artifacts", help="artifact directory (golden vectors)")
    ap.add_argument("--port", required=True,
                    help="serial port (e.g. /dev/ttyUSB1, or a pyserial URL), or 'sim' for the "
                         "board top simulated in amaranth.sim (slow: small networks)")
    ap.add_argument("--baud", type=int, default=115_200)
    ap.add_argument("--images", type=int, default=100, help="images to send (default 100)")
    ap.add_argument("--no-batch", action="store_true", help="skip the on-chip batch run")
    ap.add_argument("--stress", action="store_true", help="use stress.npz instead of vectors.npz")
    args = ap.parse_args(argv)

    if args.images < 1:
        raise UsageError(f"--images {args.images}: must be at least 1")
    from contract.artifacts import load_artifacts
    art = load_artifacts(args.artifacts)
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
    s = run_check(client, art, args.images, which="stress" if args.stress else "vectors",
                  batch=not args.no_batch)
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
