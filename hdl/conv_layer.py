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

Each cycle is a read (issue) and, one cycle later, a write of the same words (data): the
read ports are transparent, so back-to-back events on overlapping windows see each other's
updates. A word that was never written in this image reads as ``theta - 1``, not fired
(per-word flags in flip-flops, cleared in the one CLEAR cycle). ``o`` carries the compare of
each data cycle: the crossings, the fired flags before it (for pooling) and the cell.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from contract.numerics import LAST_STEP

from .accumulators import counter_shape
from .conv_banks import cell_rows, div_const, rotated_rom, window_rows
from .conv_network import ConvStage
from .network import index_bits
from .pipeline import CONTROL, Stages
from .trees import lowest_set

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
    close of the step was taken (the last compare of the pass, or a pass without one)."""
    hc, wc = layer.cells
    n = layer.kernel ** 2 * layer.lanes
    return wiring.Signature({"valid": Out(1), "end": Out(1), "cy": Out(range(hc)),
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

    def cell_banks(self, cy, cx) -> list[tuple[Value, Value, Value]]:
        """Per bank (row-major): (block row, block column, inside) of cell (cy, cx)."""
        st, K = self.stage, self.kernel
        dims = []
        for cell, size, n in ((cy, st.out_shape[1], self.cells[0]),
                              (cx, st.out_shape[2], self.cells[1])):
            q, r = div_const(cell * st.pool, K, (n - 1) * st.pool)
            dims.append(cell_rows(q, r, K, size, st.pool))
        return [(by, bx, oy & ox) for by, oy in dims[0] for bx, ox in dims[1]]

    def window_banks(self, y, x) -> tuple[list[tuple[Value, Value, Value]], Value, Value]:
        """Per bank: (block row, block column, in map) an event at (y, x) reaches; and
        (ry, rx), the ROM's rotation."""
        st, K = self.stage, self.kernel
        dims, rot = [], []
        for v, size_in, size in ((y, st.in_shape[1], st.out_shape[1]),
                                 (x, st.in_shape[2], st.out_shape[2])):
            q, r = div_const(v + st.pad, K, size_in - 1 + st.pad)
            dims.append(window_rows(q, r, K, size))
            rot.append(r)
        return [(by, bx, oy & ox) for by, oy in dims[0] for bx, ox in dims[1]], rot[0], rot[1]

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
        self._mark(m, dirty, upd, cmp & last_g, take & p.close & skip, cy, cx)
        win, ry, rx = self.window_banks(p.y, p.x)
        cell = self.cell_banks(cy, cx)
        K, (hb, wb) = self.kernel, self.blocks
        m.submodules.rom = rom = memory.Memory(
            shape=unsigned(K * K * self.lanes), depth=self.stage.in_shape[0] * K * K * G,
            init=rotated_rom(self.stage, self.lanes))
        rom_rd = rom.read_port()
        m.d.comb += [rom_rd.en.eq(ctl.advance),
                     rom_rd.addr.eq(((p.c * K + ry) * K + rx) * G + g)]
        d_upd, d_cmp = st.reg(1, "d_upd", upd), st.reg(1, "d_cmp", cmp)
        d_end = st.reg(1, "d_end", take & p.close)
        d_g = st.reg(g, "d_g", g, reset=False)
        d_t = st.reg(8, "d_time", p.time, reset=False)
        d_cy, d_cx = st.reg(cy, "d_cy", cy, reset=False), st.reg(cx, "d_cx", cx, reset=False)
        crosses, was = [], []
        for b, ((wy, wx, w_ok), (cyb, cxb, c_ok)) in enumerate(zip(win, cell)):
            addr = Signal(range(hb * wb * G), name=f"addr{b}")
            m.d.comb += addr.eq((Mux(cmp, cyb, wy) * wb + Mux(cmp, cxb, wx)) * G + g)
            active = Mux(cmp, c_ok, w_ok)
            cr, wa = self._bank(m, st, b, addr, active, rom_rd.data, d_upd, d_cmp, d_g)
            crosses.append(cr)
            was.append(wa)
        o = self.o
        m.d.comb += [o.valid.eq(d_cmp), o.end.eq(d_end), o.cy.eq(d_cy), o.cx.eq(d_cx),
                     o.g.eq(d_g), o.time.eq(d_t + 1), o.cross.eq(Cat(*crosses)),
                     o.was.eq(Cat(*was)), self.busy.eq(d_upd | d_cmp | d_end)]
        st.clear(ctl.clear)
        with m.If(ctl.clear):
            m.d.sync += g.eq(0)
        return m

    def _dirty_cells(self, m):
        """The dirty map (one row signal per cell row) and its lowest set cell (cy, cx);
        ``has``: any set; ``alone``: it is the only one."""
        hc, wc = self.cells
        dirty = [Signal(wc, name=f"dirty{r}") for r in range(hc)]
        has, cy, cx, row, alone = (Signal(), Signal(range(hc), name="cell_y"),
                                   Signal(range(wc), name="cell_x"), Signal(wc, name="cell_row"),
                                   Signal(name="alone"))
        any_row, low_row = lowest_set([d.any() for d in dirty], index_bits(hc))
        m.d.comb += [has.eq(any_row), cy.eq(low_row), row.eq(Array(dirty)[cy])]
        m.d.comb += cx.eq(lowest_set([row[k] for k in range(wc)], index_bits(wc))[1])
        at_cx = Cat(*[cx == k for k in range(wc)])
        others = [d & ~Mux(cy == r, at_cx, 0) for r, d in enumerate(dirty)]
        m.d.comb += alone.eq(~Cat(*[x.any() for x in others]).any())
        return dirty, cy, cx, has, alone

    def _mark(self, m, dirty, upd, done, wipe, cy, cx) -> None:
        """Mark the cells an event's window touches; clear a compared cell; wipe all."""
        st, p = self.stage, self.i.payload
        K, P, pool = st.kernel, st.pad, st.pool
        spans = []
        for v, n_in, n_out, n in ((p.y, st.in_shape[1], st.out_shape[1], self.cells[0]),
                                  (p.x, st.in_shape[2], st.out_shape[2], self.cells[1])):
            lo, hi = Signal(range(n), name="span_lo"), Signal(range(n), name="span_hi")
            m.d.comb += [lo.eq(Array([C(max(0, u + P - K + 1) // pool) for u in range(n_in)])[v]),
                         hi.eq(Array([C(min(n_out - 1, u + P) // pool) for u in range(n_in)])[v])]
            spans.append((lo, hi))
        (ylo, yhi), (xlo, xhi) = spans
        cols = Cat(*[(xlo <= k) & (k <= xhi) for k in range(self.cells[1])])
        for r, d in enumerate(dirty):
            with m.If(upd & (ylo <= r) & (r <= yhi)):
                m.d.sync += d.eq(d | cols)
            with m.If(done & (cy == r)):
                m.d.sync += d.eq(d & ~Cat(*[cx == k for k in range(len(d))]))
            with m.If(wipe | self.ctl.clear):
                m.d.sync += d.eq(0)

    def _bank(self, m, st, b, addr, active, rom_data, d_upd, d_cmp, d_g):
        """Bank b: its memory, written-this-image flags and the per-lane update or compare.
        Returns (crossings, fired before) of its lanes in the data cycle."""
        lanes, shape, hb_wb = self.lanes, self.counter, self.blocks[0] * self.blocks[1]
        width, depth = shape.width + 1, hb_wb * self.groups
        mem = memory.Memory(shape=unsigned(lanes * width), depth=depth, init=[])
        m.submodules[f"bank{b}"] = mem
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=(wr,))
        written = Signal(depth, name=f"written{b}")
        d_addr = st.reg(addr, f"d_addr{b}", addr, reset=False)
        d_act = st.reg(1, f"d_act{b}", active)
        bypass = wr.en & (wr.addr == addr)
        d_written = st.reg(1, f"d_written{b}", written.bit_select(addr, 1) | bypass)
        m.d.comb += [rd.addr.eq(addr), rd.en.eq(self.ctl.advance)]
        crosses, was, words = [], [], []
        for l in range(lanes):
            raw = rd.data[l * width:(l + 1) * width]
            cnt = Mux(d_written, raw[:shape.width].as_signed(), self.stage.theta - 1)
            fired = raw[-1] & d_written
            real = (d_g * lanes + l) < self.stage.out_shape[0]
            cross = cnt[-1] & ~fired & d_cmp & d_act & real
            step = Mux(rom_data[b * lanes + l], cnt - 1, cnt + 1)
            words.append(Cat(Mux(d_upd, step, cnt)[:shape.width], fired | cross))
            crosses.append(cross)
            was.append(fired & d_cmp & d_act & real)
        m.d.comb += [wr.addr.eq(d_addr), wr.data.eq(Cat(*words)),
                     wr.en.eq((d_upd | d_cmp) & d_act & self.ctl.advance)]
        with m.If(wr.en):
            m.d.sync += written.eq(written | Cat(*[d_addr == k for k in range(depth)]))
        with m.If(self.ctl.clear):
            m.d.sync += written.eq(0)
        return Cat(*crosses), Cat(*was)
