"""Will a network fit a board? Block RAM, DSP slices, and estimates of LUTs and flip-flops,
checked before any tool runs."""

import math

from .accumulators import DSP_LANES, counter_shape

__all__ = ["bram_blocks", "dense_resources", "fit_check"]

# (depth, width) configurations of one block RAM
_BRAM_SHAPES = {
    "xc7": [(512, 72), (1024, 36), (2048, 18), (4096, 9), (8192, 4), (16384, 2), (32768, 1)],
    "ecp5": [(512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)],
    "ice40": [(256, 16), (512, 8), (1024, 4), (2048, 2)],
}
# Reads one block RAM serves per cycle when nothing writes it: a true dual-port block (xc7
# RAMB36E1, ECP5 DP16KD) has two ports, but not in its widest (simple dual-port) shape, the
# first above; an iCE40 EBR has one read port.
_READ_PORTS = {"xc7": 2, "ecp5": 2, "ice40": 1}


def bram_blocks(family, depth, width, reads=1, written=False):
    """Fewest block RAMs holding a depth x width memory read ``reads`` words per cycle.

    One read (and a write port): the simple dual-port shapes. More reads: true dual-port
    blocks give two each (a ROM), else one copy per read (a written RAM: the write takes a
    port of every copy).
    """
    shapes = _BRAM_SHAPES[family]
    ports = 1 if reads == 1 or written else _READ_PORTS[family]
    if ports > 1:
        shapes = shapes[1:]
    copies = math.ceil(reads / ports)
    return copies * min(math.ceil(width / w) * math.ceil(depth / d) for d, w in shapes)


# Logic per unit, from Yosys runs on the authors' 784-600-10 network (docs/core.md): LUTs per
# first-layer counter bit, per tree input bit (6:3 counters / full adders), per LUT family.
_LUT_PER_COUNTER_BIT = {"xc7": 1.05, "ecp5": 1.1, "ice40": 1.1}
_LUT_PER_TREE_BIT = {(6, "xc7"): 1.5, (3, "xc7"): 1.8, (3, "ecp5"): 3.0, (6, "ecp5"): 4.0,
                     (3, "ice40"): 3.0, (6, "ice40"): 4.0}


def dense_resources(art, params, board, event_capacity, image_capacity) -> dict:
    """A dense network's memories [(what, depth, width, reads, written, blocks)], block RAMs,
    LUT / FF estimates, DSP slices and tree input bits on ``board`` with core ``params``."""
    widths = [int(w) for w in art.widths]
    n1 = widths[1]
    lanes = params.get("lanes") or n1
    groups = math.ceil(n1 / lanes)
    dsp_n = int(params.get("dsp_neurons") or 0)
    k = int(params.get("events_per_cycle") or 1)
    runtime = bool(params.get("runtime_weights"))
    addr_bits = max(1, math.ceil(math.log2(widths[0])))
    result_bits = max(1, math.ceil(math.log2(widths[-1]))) + 8 + 2 + 32 + 9 * widths[-1]
    mems = [("layer-0 weight ROM", widths[0] * groups, lanes, k, runtime),
            ("event buffer", event_capacity, 8 + addr_bits + 1 + (k - 1) * (addr_bits + 1), 1,
             True),
            ("result buffer", image_capacity, result_bits, 1, True)]
    mems = [(*m, bram_blocks(board.family, *m[1:])) for m in mems]
    # First layer: a counter per neuron (in registers, DSP lanes or a G-deep LUT RAM); deeper
    # layers: one tree over the fan-in plus one over the smaller weight set per neuron.
    acc0 = counter_shape(widths[0], int(art.thetas[0])).width
    fabric = (n1 - dsp_n) if groups == 1 else lanes
    tree_bits = 0
    for l in range(1, len(widths) - 1):
        w = art.weights[l]
        plus = (w > 0).sum(axis=1)
        tree_bits += widths[l] + int(sum(min(int(p), widths[l] - int(p)) for p in plus))
    counter = int(params.get("tree_counter", 3))
    # K events per cycle: a counter adds a -K..+K step (Yosys synth_xilinx on 16 counters of
    # 11 bits: 0.92 LUT per bit with K = 1, 1.30 with K = 2 or 3, 1.76 with K = 4), a DSP
    # lane takes it from about 3 LUTs.
    per_counter = acc0 * _LUT_PER_COUNTER_BIT[board.family] * (1 + 0.4 * (k // 2))
    luts = int(fabric * per_counter + (3 * dsp_n if k > 1 else 0)
               + tree_bits * _LUT_PER_TREE_BIT[(counter, board.family)] + 1500)
    ffs = fabric * acc0 + sum(widths[1:]) * 2 + tree_bits // 2
    return {"mems": mems, "brams": sum(m[-1] for m in mems), "luts": luts, "ffs": ffs,
            "dsps": dsp_n // DSP_LANES, "tree_bits": tree_bits, "lanes": lanes, "groups": groups,
            "dsp_neurons": dsp_n, "events_per_cycle": k}


def fit_check(art, params, board, event_capacity, image_capacity):
    """Device resources the network needs, as (ok, lines). LUT/FF figures are estimates.
    Conv networks: hdl/conv_fit.py."""
    if "conv" in (getattr(art, "kinds", None) or ()):
        from .conv_fit import conv_fit_check
        return conv_fit_check(art, params, board, event_capacity, image_capacity)
    r = dense_resources(art, params, board, event_capacity, image_capacity)
    widths = [int(w) for w in art.widths]
    n1, lanes, groups, dsp_n, k = (widths[1], r["lanes"], r["groups"], r["dsp_neurons"],
                                   r["events_per_cycle"])
    luts, ffs, dsps, tree_bits = r["luts"], r["ffs"], r["dsps"], r["tree_bits"]
    counter = int(params.get("tree_counter", 3))
    lines, total = [], r["brams"]
    for what, depth, width, reads, written, n in r["mems"]:
        lines.append(f"  {what:20s} {depth:6d} x {width:4d} bit = {depth * width / 1024:7.1f} kbit"
                     f" -> {n} {board.bram_kind}" + (f" ({reads} reads per cycle)" if reads > 1
                                                       else ""))
    rom_bits = widths[0] * n1
    lines.append(f"  block RAM total      {total} / {board.brams} {board.bram_kind}"
                 f" ({100 * total / board.brams:.0f} %)")
    lines.append(f"  first-layer counters {n1} neurons: {n1 - dsp_n if groups == 1 else n1} in "
                 f"logic, {dsp_n} in {dsps} DSP slices ({dsps} / {board.dsps})")
    lines.append(f"  deeper-layer trees   {tree_bits} input bits ({counter}-input compressors)")
    lines.append(f"  flip-flops           ~{ffs} (est.) / {board.ffs} ({100 * ffs / board.ffs:.0f} %)")
    lines.append(f"  logic                ~{luts} LUT (est.) / {board.luts}"
                 f" ({100 * luts / board.luts:.0f} %)")
    ok = total <= board.brams and ffs <= board.ffs and dsps <= board.dsps
    head = (f"fit check: network {'-'.join(map(str, widths))} ({rom_bits / 1000:.0f} kbit of "
            f"layer-0 weights), lanes {lanes}"
            + (f", {k} events per cycle" if k > 1 else "") + f", on {board.title} ({board.device})")
    if not ok:
        lines.append(f"  DOES NOT FIT: needs {total} {board.bram_kind} of {board.brams}"
                     + (f", {ffs} FF of {board.ffs}" if ffs > board.ffs else "")
                     + (f", {dsps} DSP of {board.dsps}" if dsps > board.dsps else "")
                     + "; use a smaller network (e.g. export a 784-64-10 checkpoint), fewer "
                     "lanes or fewer buffer entries")
    elif luts > board.luts:
        lines.append("  warning: the logic estimate exceeds the device; synthesis will tell")
    return ok, [head] + lines
