# amaranth: UnusedElaboratable=no
"""Will a conv network fit a board? The conv core's memories and an estimate of its logic.

Per event stage (docs/core.md, "Convolutional layers"): the pre-rotated kernel ROM, the
K x K potential banks (distributed RAM when shallow, else block RAM), the spike queue to
the next stage; the flattened fired vector and the dense layers' trees; the board top's
event and result buffers. Every line names its part, and a network that does not fit is
refused naming the parts that need the most of what is short.
"""

import math

from .accumulators import counter_shape
from .conv_network import ConvNetwork
from .fit import _LUT_PER_TREE_BIT, bram_blocks

__all__ = ["conv_fit_check", "conv_resources", "conv_board_lanes"]

# Banks up to 128 words deep live in LUT RAM (none on iCE40): words per primitive and LUTs
# per bit of it, with one write and one separate read port (RAM32M: 6 bits x 32 words in 4
# LUTs; TRELLIS_DPR16X4: 4 bits x 16 words in 2 LUT4s).
_LUTRAM = {"xc7": (32, 0.67), "ecp5": (16, 0.5), "ice40": (0, 0.0)}
# Yosys put 32-word banks in RAM32M and 100-word banks in RAMB18 (Arty run of the MNIST
# conv16-32 network at 4 lanes, benchmarks/results/build_arty_conv.txt).
_LUTRAM_MAX_DEPTH = 64
# Logic per potential bit of a bank lane: the +-1 step, the not-yet-written multiplexer,
# the compare and the write-back multiplexer, with the pipeline registers' enables; fitted
# to that Yosys run of the pipelined core (20,337 LUT; 5.4 fitted the first core's 19,242).
_LUT_PER_LANE_BIT = 5.97


def _stage_parts(conv, family) -> tuple[list, int, int]:
    """(memories [(what, depth, width, how many)], LUTs, FFs) of one conv layer as built."""
    st, K, L, G = conv.stage, conv.kernel, conv.lanes, conv.groups
    w = counter_shape(st.fan_in, st.theta).width + 1
    depth = conv.blocks[0] * conv.blocks[1] * G
    mems = [(f"layer {st.conv_index} kernel ROMs", st.in_shape[0] * K * K, K * K * L, G)]
    luts = K * K * L * w * _LUT_PER_LANE_BIT
    words, per_bit = _LUTRAM[family]
    if words and depth <= _LUTRAM_MAX_DEPTH:
        luts += K * K * L * w * per_bit * math.ceil(depth / words)
    else:
        mems.append((f"layer {st.conv_index} potential banks", depth, L * w, K * K))
    hc, wc = conv.cells
    luts += 3 * hc * wc + 40 * K * K
    ffs = K * K * (depth + 2 * L * w // 3) + hc * wc + 64
    return mems, int(luts), ffs


def conv_resources(art, params, board, event_capacity, image_capacity) -> dict:
    """The conv core's memories [(what, depth, width, how many)], LUT and FF estimates,
    dense tree input bits and block RAMs on ``board`` with core ``params``."""
    from .conv_core import ConvCore
    core = ConvCore(ConvNetwork.from_artifacts(art), **{**params, "debug_port": False})
    widths = [int(x) for x in art.widths]
    fam = board.family
    mems = [("event buffer", event_capacity, 8 + max(1, math.ceil(math.log2(widths[0]))) + 1, 1),
            ("result buffer", image_capacity,
             max(1, math.ceil(math.log2(widths[-1]))) + 8 + 2 + 32 + 9 * widths[-1], 1)]
    luts, ffs = 1500, 0
    for k, conv in enumerate(core.convs):
        m, lu, ff = _stage_parts(conv, fam)
        mems += m
        luts, ffs = luts + lu, ffs + ff
        if k < len(core.queues):
            q = core.queues[k]
            mems.append((f"spike queue {k} -> {k + 1}", q.depth, q.entry.size, 1))
    tail = core.net.tail
    tree_bits = core.flatten.width
    for l in range(tail.n_layers):              # one tree over the inputs, one per neuron
        n_in = tail.widths[l]
        plus = [sum((word >> j) & 1 for word in tail.words[l]) for j in range(tail.widths[l + 1])]
        tree_bits += n_in + sum(min(p, n_in - p) for p in plus)
    luts += int(tree_bits * _LUT_PER_TREE_BIT[(int(params.get("tree_counter", 3)), fam)])
    ffs += core.flatten.width + tree_bits // 2 + sum(tail.widths[1:]) * 2
    brams = sum(n * _blocks(fam, d, w) for _, d, w, n in mems)
    return {"core": core, "mems": mems, "luts": luts, "ffs": ffs, "tree_bits": tree_bits,
            "brams": brams}


def _blocks(family, depth, width) -> float:
    """Block RAMs of one memory; on the Xilinx 7 series a memory that fits a RAMB18
    (512 x 36 or 1024 x 18) counts as half a BRAM36."""
    if family == "xc7" and ((depth <= 512 and width <= 36) or (depth <= 1024 and width <= 18)):
        return 0.5
    return bram_blocks(family, depth, width)


def conv_board_lanes(board, art, params) -> int | None:
    """The most conv lanes (None: all channels) with which the network's estimate fits
    ``board`` (block RAM, flip-flops, LUTs); halving from the widest conv layer's channels."""
    widest = max(lay["out_shape"][0] for lay in art.layers if lay["kind"] == "conv")
    lanes = widest
    while True:
        r = conv_resources(art, {**params, "lanes": lanes}, board, board.event_capacity,
                           board.image_capacity)
        if (r["brams"] <= board.brams and r["ffs"] <= board.ffs and r["luts"] <= board.luts) \
                or lanes == 1:
            return None if lanes == widest else lanes
        lanes = -(-lanes // 2)


def conv_fit_check(art, params, board, event_capacity, image_capacity):
    """(ok, lines) for a conv network's artifacts ``art`` with core ``params``."""
    r = conv_resources(art, params, board, event_capacity, image_capacity)
    core, mems, luts, ffs, tree_bits = r["core"], r["mems"], r["luts"], r["ffs"], r["tree_bits"]
    fam, widths = board.family, [int(x) for x in art.widths]
    lines, total, used = [], 0, []
    for what, depth, width, count in mems:
        n = count * _blocks(fam, depth, width)
        total += n
        used.append((n, what))
        name = f"{what} ({count}x)" if count > 1 else what
        lines.append(f"  {name:30s} {depth:6d} x {width:4d} bit = "
                     f"{count * depth * width / 1024:8.1f} kbit -> {n:g} {board.bram_kind}")
    lines.append(f"  block RAM total                {total:g} / {board.brams} {board.bram_kind}"
                 f" ({100 * total / board.brams:.0f} %)")
    lines.append(f"  dense trees                    {tree_bits} input bits")
    lines.append(f"  flip-flops                     ~{ffs} (est.) / {board.ffs}"
                 f" ({100 * ffs / board.ffs:.0f} %)")
    lines.append(f"  logic                          ~{luts} LUT (est.) / {board.luts}"
                 f" ({100 * luts / board.luts:.0f} %)")
    short = []
    if total > board.brams:
        big = ", ".join(f"{what} ({n})" for n, what in sorted(used, reverse=True)[:3])
        short.append(f"{total:g} {board.bram_kind} of {board.brams} (largest: {big})")
    if ffs > board.ffs:
        short.append(f"~{ffs} FF of {board.ffs}")
    ok = not short
    head = (f"fit check: conv network {'-'.join(map(str, widths))}, lanes "
            f"{core.lanes or 'all'} ({'/'.join(map(str, core.groups))} cycles per event), on "
            f"{board.title} ({board.device})")
    if short:
        lines.append("  DOES NOT FIT: needs " + "; ".join(short) + "; use fewer --lanes, "
                     "fewer buffer entries or a smaller network")
    elif luts > board.luts:
        lines.append("  warning: the logic estimate exceeds the device; synthesis will tell")
    return ok, [head] + lines
