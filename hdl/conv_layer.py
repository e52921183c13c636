"""A convolutional layer: potentials in K x K memory banks, updated by events, compared by cell.

Event driven (docs/numerics.md, "Convolution", "Per-step compare"; docs/core.md,
"Convolutional layers"). The layer takes items from its input stream, in order:

* an input event (c_in, y, x) of step t: ``G = ceil(C_out / lanes)`` cycles, one channel
  group each; every cycle reads the event's K x K window, one word per bank
  (hdl/conv_banks.py), and the matching row of a pre-rotated kernel ROM, and steps each
  counter ``theta - 1 - V`` by one against its weight bit; the touched *cells* (pooling
  windows, single positions without pooling) are marked dirty;
* the close of step t: the dirty cells in ascending order, ``G`` cycles each; every cycle
  reads the cell's positions (distinct banks) and compares them: a neuron crosses when
  ``V >= theta`` and it has not fired, which sets its fired flag (fire once). Only the cells
  an event touched in step t are compared: every other neuron is unchanged and was below
  theta (or had fired) when it was last compared. Step 255 is never compared.

An item and group goes through six cycles: *issue* (the item is taken or kept, its group
and, for a close, the lowest dirty cell chosen; all registered), *address* (the banks' and
the ROM's addresses from tables of constants, one addition each, registered), *memory* (the
reads, addressed by flip-flops alone), *read* (the words land in registers), *data* (the
words updated or compared, the new words registered) and *write* (those registers written
back). The writes of the two items ahead come after this item's read, so they are
forwarded; writes three or more ahead are seen by the transparent reads, so back-to-back
events on overlapping windows see each other's updates. A word that was never written in
this image reads as ``theta - 1``, not fired (per-word flags in flip-flops, cleared in the
one CLEAR cycle).
``o`` carries the compare of each data cycle: the crossings, the fired flags before it (for
pooling) and the cell. No multiplier or divider sits between a register and a memory
address (docs/core.md, "The clock").
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from contract.numerics import LAST_STEP

from .accumulators import counter_shape
from .conv_banks import cell_block, lookup, rotated_rom, window_block
from .conv_network import ConvStage
from .network import index_bits
from .pipeline import CONTROL, Stages
from .trees import lowest_set, one_hot

__all__ = ["ConvLayer", "conv_item", "conv_compare"]


def conv_item(shape) -> data.StructLayout:
    """An input item: an event at channel ``c``, row ``y``, column ``x`` of step ``time``,
    or (``close``) the end of step ``time``."""
    c, h, w = shape
    return data.StructLayout({"close": unsigned(1), "c": unsigned(index_bits(c)),
                              "y": unsigned(index_bits(h)), "x": unsigned(index_bits(w)),
                              "time": unsigned(8)})


def conv_compare(layer: "ConvLayer") -> wiring.Signature:
    """One data cycle of a compare. valid: a compare of cell (cy, cx), channel group g;
    cross / was: per bank b and lane l (bit b * lanes + l) the crossing and the fired flag
    before it, of the positions inside the cell; time: the spike time (step + 1); end: the
    close of the step was taken (the last compare of the pass, or a pass without one); whole:
    the cell is a whole pooling window (a map not divisible by the pool leaves a part)."""
    hc, wc = layer.cells
    n = layer.kernel ** 2 * layer.lanes
    return wiring.Signature({"valid": Out(1), "end": Out(1), "whole": Out(1), "cy": Out(range(hc)),
                             "cx": Out(range(wc)), "g": Out(range(layer.groups)),
                             "time": Out(8), "cross": Out(n), "was": Out(n)})


class ConvLayer(wiring.Component):
    """One conv layer of an event stage.

    Parameters
    ----------
    stage : ConvStage
    lanes : int
        Output channels updated (and compared) per cycle (1 .. C_out).

    Members
    -------
    ctl : In(CONTROL)
    i : In(stream)  conv_item of the input map -- events and step closes, in order
    o : Out(conv_compare)  the compares
    busy : Out(1)  a read in flight

    Attributes
    ----------
    groups : int  cycles per event and per compared cell, ``ceil(C_out / lanes)``
    cells : (int, int)  the dirty map's rows and columns
    blocks : (int, int)  words per bank (rows, columns), times ``groups``
    """

    def __init__(self, stage: ConvStage, *, lanes: int):
        c_out, h, w = stage.out_shape
        if not isinstance(lanes, int) or not 1 <= lanes <= c_out:
            raise ValueError(f"conv lanes must be in 1..{c_out}, got {lanes!r}")
        self.stage, self.lanes, self.kernel = stage, lanes, stage.kernel
        self.groups = -(-c_out // lanes)
        self.cells = (-(-h // stage.pool), -(-w // stage.pool))
        self.blocks = (-(-h // stage.kernel), -(-w // stage.kernel))
        self.counter = counter_shape(stage.fan_in, stage.theta)
        super().__init__({"ctl": In(CONTROL), "i": In(stream.Signature(conv_item(stage.in_shape))),
                          "o": Out(conv_compare(self)), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        ctl, p, G = self.ctl, self.i.payload, self.groups
        st = Stages(m, ctl.advance)
        en = ctl.advance & ctl.accepting
        g = Signal(range(G), name="group")
        dirty, cy, cx, has, alone = self._dirty_cells(m)
        skip = (p.time == LAST_STEP) | ~has             # step 255 is never compared
        upd = self.i.valid & ~p.close & en
        cmp = self.i.valid & p.close & ~skip & en
        last_g = g == G - 1
        take = self.i.valid & en & Mux(p.close, skip | (last_g & alone), last_g)
        m.d.comb += self.i.ready.eq(take)
        with m.If(upd | cmp):
            m.d.sync += g.eq(Mux(last_g, 0, g + 1))
        self._mark(m, dirty, upd, cmp & last_g, take & p.close & skip)
        # issue -> address stage: the item, its group and its cell, registered
        a_upd, a_cmp = st.reg(1, "a_upd", upd), st.reg(1, "a_cmp", cmp)
        a_end = st.reg(1, "a_end", take & p.close)
        a = {name: st.reg(v, f"a_{name}", v, reset=False)
             for name, v in (("g", g), ("time", p.time), ("cy", cy), ("cx", cx), ("c", p.c),
                             ("y", p.y), ("x", p.x))}
        banks, rom_addr = self._addresses(a_cmp, a["y"], a["x"], a["cy"], a["cx"], a["g"],
                                          a["c"])
        K = self.kernel
        # One kernel ROM per output-channel group (word (c_in K + ry) K + rx): each is
        # C_in K K words deep, one block RAM deep for the networks built, so no multiplexer
        # between a block RAM's output and its register; the group is picked after it.
        words = rotated_rom(self.stage, self.lanes)
        roms = []
        for gi in range(G):
            m.submodules[f"rom{gi}"] = rom = memory.Memory(
                shape=unsigned(K * K * self.lanes), depth=self.stage.in_shape[0] * K * K,
                init=words[gi::G])
            roms.append(rom)
        # address -> memory stage: the addresses registered, so every memory's address
        # port is driven by flip-flops alone (the reads are issued here)
        flags = ("upd", "cmp", "end")
        q = {k: st.reg(1, f"q_{k}", v) for k, v in zip(flags, (a_upd, a_cmp, a_end))}
        q.update({k: st.reg(a[k], f"q_{k}", a[k], reset=False)
                  for k in ("g", "time", "cy", "cx")})
        q_rom = st.reg(rom_addr, "q_rom_addr", rom_addr, reset=False)
        rom_rds = [rom.read_port() for rom in roms]
        m.d.comb += [x for rd in rom_rds for x in (rd.en.eq(ctl.advance), rd.addr.eq(q_rom))]
        # memory -> read -> data stage
        r = {k: st.reg(1, f"r_{k}", q[k]) for k in flags}
        r.update({k: st.reg(q[k], f"r_{k}", q[k], reset=False)
                  for k in ("g", "time", "cy", "cx")})
        d = {k: st.reg(1, f"d_{k}", r[k]) for k in flags}
        d.update({k: st.reg(r[k], f"d_{k}", r[k], reset=False) for k in ("g", "time", "cy", "cx")})
        c_out = self.stage.out_shape[0]
        real = [sum(1 << l for l in range(self.lanes) if gi * self.lanes + l < c_out)
                for gi in range(G)]
        d["real"] = st.reg(self.lanes, "d_real", lookup(r["g"], real, self.lanes), reset=False)
        _, h, w = self.stage.out_shape
        pool = self.stage.pool
        d["whole"] = st.reg(1, "d_whole", (r["cy"] < h // pool) & (r["cx"] < w // pool),
                            reset=False)
        d_roms = [st.reg(rd.data, f"d_rom{gi}", rd.data, reset=False)
                  for gi, rd in enumerate(rom_rds)]
        d_rom = Array(d_roms)[d["g"]] if G > 1 else d_roms[0]
        crosses, was = [], []
        for b, (word, ok) in enumerate(banks):
            addr = Signal(range(self.blocks[0] * self.blocks[1] * G), name=f"addr{b}")
            m.d.comb += addr.eq(word)
            q_addr = st.reg(addr, f"q_addr{b}", addr, reset=False)
            q_act = st.reg(1, f"q_act{b}", ok)
            cr, wa = self._bank(m, st, b, q_addr, q_act, d_rom, d)
            crosses.append(cr)
            was.append(wa)
        # data -> out: the compare's results registered before the pooling OR
        o = self.o
        outs = {"valid": d["cmp"], "end": d["end"], "whole": d["whole"], "cy": d["cy"],
                "cx": d["cx"], "g": d["g"],
                "time": d["time"] + 1, "cross": Cat(*crosses), "was": Cat(*was)}
        for k, v in outs.items():
            m.d.comb += getattr(o, k).eq(st.reg(getattr(o, k), f"o_{k}", v,
                                                reset=k in ("valid", "end")))
        stages = [x[k] for x in (q, r, d) for k in flags]
        m.d.comb += self.busy.eq(Cat(a_upd, a_cmp, a_end, *stages, o.valid, o.end).any())
        st.clear(ctl.clear)
        with m.If(ctl.clear):
            m.d.sync += g.eq(0)
        return m

    def _tables(self, which: str, b: int) -> tuple[list, list]:
        """Bank row/column ``b``'s tables along rows (``which`` "y") or columns ("x"): per
        input row (window) and per cell row (cell), the block, or None outside."""
        st, K = self.stage, self.kernel
        d = 1 if which == "y" else 2
        n_in, n_out = st.in_shape[d], st.out_shape[d]
        win = [window_block(v, b, K, st.pad, n_out) for v in range(n_in)]
        cell = [cell_block(v, b, K, st.pool, n_out) for v in range(self.cells[d - 1])]
        return win, cell

    def cell_banks(self, cy, cx) -> list[tuple[Value, Value, Value]]:
        """Per bank (row-major): (block row, block column, inside) of cell (cy, cx), as
        table lookups."""
        dims = []
        for which, v in (("y", cy), ("x", cx)):
            dims.append([])
            for b in range(self.kernel):
                blocks = self._tables(which, b)[1]
                dims[-1].append((lookup(v, [k or 0 for k in blocks]),
                                 lookup(v, [k is not None for k in blocks], 1)))
        return [(by, bx, oy & ox) for by, oy in dims[0] for bx, ox in dims[1]]

    def _addresses(self, cmp, y, x, cy, cx, g, c) -> tuple[list, Value]:
        """The address stage: per bank (address, active) of an event at (y, x) or, when
        ``cmp``, of cell (cy, cx), in channel group ``g``; and the kernel ROM's address of
        an event of input channel ``c``. Tables of constants, then one addition each:
        bank word (block row * blocks + block column) * G + g, word (c K + ry) K + rx of
        every group's kernel ROM (hdl/conv_banks.py)."""
        st, K, G, wb = self.stage, self.kernel, self.groups, self.blocks[1]
        g = Value.cast(g)
        gb = len(g)

        def plus_group(values):                 # indexed by Cat(g, v): values[v] + g
            return [values[i >> gb] + (i & ((1 << gb) - 1)) if i >> gb < len(values) else 0
                    for i in range(len(values) << gb)]

        dims = []
        for which, v, cv in (("y", y, cy), ("x", x, cx)):
            dims.append([])
            for b in range(K):
                found = []
                for idx, blocks in zip((v, cv), self._tables(which, b)):
                    if which == "y":
                        word = lookup(idx, [(k or 0) * wb * G for k in blocks])
                    else:
                        word = lookup(Cat(g, idx), plus_group([(k or 0) * G for k in blocks]))
                    found.append((word, lookup(idx, [k is not None for k in blocks], 1)))
                (wv, wo), (cw, co) = found
                dims[-1].append((Mux(cmp, cw, wv), Mux(cmp, co, wo)))
        banks = [(wy + wx, oy & ox) for wy, oy in dims[0] for wx, ox in dims[1]]
        yb = max(1, (st.in_shape[1] - 1).bit_length())
        c_rows = [(ci * K + (v + st.pad) % K) * K for ci in range(st.in_shape[0])
                  for v in range(1 << yb)]
        rom_addr = (lookup(Cat(Value.cast(y)[:yb], c), c_rows)
                    + lookup(x, [(xi + st.pad) % K for xi in range(st.in_shape[2])]))
        return banks, rom_addr

    def _dirty_cells(self, m):
        """The dirty map (one row signal per cell row) and its lowest set cell (cy, cx);
        ``has``: any set; ``alone``: it is the only one. ``has`` and ``alone`` come from
        per-row flags kept in registers beside the map (``rows``: the row has a dirty cell,
        ``ones``: exactly one), so an item's ``ready`` is a few gates from flip-flops. Each
        row's lowest column is found beside the lowest row, then picked by it."""
        hc, wc = self.cells
        dirty = [Signal(wc, name=f"dirty{r}") for r in range(hc)]
        rows, ones = Signal(hc, name="dirty_rows"), Signal(hc, name="dirty_ones")
        cy, cx = Signal(range(hc), name="cell_y"), Signal(range(wc), name="cell_x")
        _, low_row = lowest_set([rows[r] for r in range(hc)], index_bits(hc))
        low_cols = [lowest_set([d[k] for k in range(wc)], index_bits(wc))[1] for d in dirty]
        m.d.comb += [cy.eq(low_row), cx.eq(Array(low_cols)[cy])]
        alone = one_hot([rows[r] for r in range(hc)]) & (ones | ~rows).all()
        return (dirty, rows, ones), cy, cx, rows.any(), alone

    def _mark(self, m, dirty, upd, done, wipe) -> None:
        """Mark the cells an event's window touches (row and column masks from tables);
        clear the lowest dirty cell (the compared one) when ``done``; wipe all."""
        st, p = self.stage, self.i.payload
        K, P, pool = st.kernel, st.pad, st.pool
        masks = []
        for v, n_in, n_out, n in ((p.y, st.in_shape[1], st.out_shape[1], self.cells[0]),
                                  (p.x, st.in_shape[2], st.out_shape[2], self.cells[1])):
            spans = [range(max(0, u + P - K + 1) // pool, min(n_out - 1, u + P) // pool + 1)
                     for u in range(n_in)]
            masks.append(lookup(v, [sum(1 << k for k in r) for r in spans], n))
        marks, cols = masks
        dirty, rows, ones = dirty
        for r, d in enumerate(dirty):
            # Each outcome's row flags are formed beside the controls that pick one, so
            # the controls meet them only at the last multiplexer.
            marked, cleared = d | cols, d & (d - 1)   # cleared: the row's lowest bit
            nxt = Signal.like(d, name=f"dirty_next{r}")
            row, one = Signal(name=f"row_next{r}"), Signal(name=f"one_next{r}")
            m.d.comb += [nxt.eq(d), row.eq(rows[r]), one.eq(ones[r])]
            with m.If(upd & marks[r]):
                m.d.comb += [nxt.eq(marked), row.eq(rows[r] | cols.any()),
                             one.eq(one_hot(list(marked)))]
            with m.If(done & rows[r] & ~rows[:r].any()):
                m.d.comb += [nxt.eq(cleared), row.eq(~ones[r]), one.eq(one_hot(list(cleared)))]
            with m.If(wipe | self.ctl.clear):
                m.d.comb += [nxt.eq(0), row.eq(0), one.eq(0)]
            m.d.sync += [d.eq(nxt), rows[r].eq(row), ones[r].eq(one)]

    def _bank(self, m, st, b, addr, active, rom_data, d):
        """Bank b: its memory, written-this-image flags and the per-lane update or compare.

        ``addr``, ``active``: the memory stage's (registers); ``rom_data``: the kernel word
        in the data stage; ``d``: the data stage's flags (upd, cmp, real: the lanes of real channels).
        The read lands in a register (read stage), so the block RAM's output drives nothing
        but flip-flops. The data stage's new words land in registers too and are written
        from there in the next cycle (write stage), so the memory's write port is driven by
        flip-flops alone. A read therefore misses the writes of the two items ahead: the one
        ahead (in the data stage while this item is read) and the one two ahead (writing
        while this item is read); the read stage compares their addresses with its own and
        the data stage takes the newer matching word (``fwd1``, ``fwd2``); writes three or
        more ahead are seen by the (transparent) read. Returns (crossings, fired before)
        of its lanes in the data stage."""
        lanes, shape, hb_wb = self.lanes, self.counter, self.blocks[0] * self.blocks[1]
        width, depth = shape.width + 1, hb_wb * self.groups
        mem = memory.Memory(shape=unsigned(lanes * width), depth=depth, init=[])
        m.submodules[f"bank{b}"] = mem
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=(wr,))
        written = Signal(depth, name=f"written{b}", reset_less=True)   # cleared in CLEAR
        m.d.comb += [rd.addr.eq(addr), rd.en.eq(self.ctl.advance)]
        r_addr = st.reg(addr, f"r_addr{b}", addr, reset=False)
        r_act = st.reg(1, f"r_act{b}", active)
        d_addr = st.reg(addr, f"d_addr{b}", r_addr, reset=False)
        d_act = st.reg(1, f"d_act{b}", r_act)
        d_wr, new = Signal(name=f"d_wr{b}"), Signal(lanes * width, name=f"new{b}")
        w_en = st.reg(1, f"w_en{b}", d_wr)
        w_addr = st.reg(addr, f"w_addr{b}", d_addr, reset=False)
        w_word = st.reg(new, f"w_word{b}", new, reset=False)
        fwd1 = d_wr & (d_addr == r_addr)                 # one ahead: in the data stage
        fwd2 = w_en & (w_addr == r_addr)                 # two ahead: writing now
        d_fwd1, d_fwd2 = st.reg(1, f"d_fwd1_{b}", fwd1), st.reg(1, f"d_fwd2_{b}", fwd2)
        d_fwd2_word = st.reg(w_word, f"d_fwd2_word{b}", w_word, reset=False)
        d_raw = st.reg(rd.data, f"d_raw{b}", rd.data, reset=False)
        # written before this item: the flags as the read is issued (with the write three
        # ahead, landing then), completed in the read stage by the two ahead
        r_written = st.reg(1, f"r_written{b}",
                           written.bit_select(addr, 1) | (w_en & (w_addr == addr)))
        d_written = st.reg(1, f"d_written{b}", r_written | fwd1 | fwd2)
        word = Mux(d_fwd1, w_word, Mux(d_fwd2, d_fwd2_word, d_raw))
        crosses, was, words = [], [], []
        for l in range(lanes):
            raw = word[l * width:(l + 1) * width]
            cnt = Mux(d_written, raw[:shape.width].as_signed(), self.stage.theta - 1)
            fired = raw[-1] & d_written
            look = d["cmp"] & d_act & d["real"][l]
            cross = cnt[-1] & ~fired & look
            step = Mux(rom_data[b * lanes + l], cnt - 1, cnt + 1)
            words.append(Cat(Mux(d["upd"], step, cnt)[:shape.width], fired | cross))
            crosses.append(cross)
            was.append(fired & look)
        m.d.comb += [d_wr.eq((d["upd"] | d["cmp"]) & d_act), new.eq(Cat(*words)),
                     wr.addr.eq(w_addr), wr.data.eq(w_word), wr.en.eq(w_en & self.ctl.advance)]
        with m.If(wr.en):
            m.d.sync += written.eq(written | Cat(*[w_addr == k for k in range(depth)]))
        with m.If(self.ctl.clear):
            m.d.sync += written.eq(0)
        return Cat(*crosses), Cat(*was)
