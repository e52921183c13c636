"""Pipelined multi-operand adders: weighted bits compressed by full adders (carry-save).

A *heap* is a set of weighted bits plus an integer constant. ``HeapBuilder`` compresses
many heaps level by level with full adders (3 bits of one column -> a sum bit there and a
carry bit one column up) until each has at most two bits per column, then adds the two
rows with one carry-propagate adder. Every ``levels_per_stage`` full-adder levels all live
bits go through a register, so every heap of one builder has the same latency.

Why full adders rather than ``a + b + ...``: a tree of ``+`` makes Yosys build one
carry chain per node; the 3:2 compressors stay plain LUT logic (one LUT4 or LUT6 level per
adder level) and a single carry chain is left at the end. Used by the deeper layers of the
core: ``V_k = pc(F) - 2 * pc(F & N_k) - theta`` over a layer's fired-input vector F.
"""
from __future__ import annotations

from functools import reduce
from itertools import combinations

from amaranth.hdl import Cat, Const, Signal, Value, signed

__all__ = ["Heap", "HeapBuilder"]


def _and(bits):
    return reduce(lambda a, b: a & b, bits)


class Heap:
    """Weighted bits plus a constant, modulo 2**width (read back as a signed number).

    Parameters
    ----------
    width : int
        Bits of the (two's-complement) result; the true sum must fit ``signed(width)``.
    """

    def __init__(self, width: int):
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        self.width = width
        self.cols: list[list[Value]] = [[] for _ in range(width)]
        self.const = 0

    def add_bit(self, bit, weight: int = 0) -> "Heap":
        """Add ``bit * 2**weight`` (``bit``: a 1-bit value or the int 0/1)."""
        if isinstance(bit, int):
            self.const += bit << weight
        elif weight < self.width:
            self.cols[weight].append(bit)
        return self

    def add_const(self, value: int) -> "Heap":
        self.const += value
        return self

    def add_rows(self, rows: list[list[Value]], *, scale: int = 0, negate: bool = False) -> "Heap":
        """Add (or subtract) ``sum(rows) << scale``; a row is a list of bits, LSB first.

        Subtraction uses ``-x = ~x + 1`` over ``width`` bits, so the inverted high bits of a
        short row become constants.
        """
        for row in rows:
            if negate:
                bits = [~b if not isinstance(b, int) else 1 - b for b in row]
                bits += [1] * (self.width - len(bits))
                for k, b in enumerate(bits):
                    self.add_bit(b, k + scale)
                self.const += 1 << scale
            else:
                for k, b in enumerate(row):
                    self.add_bit(b, k + scale)
        return self

    @property
    def height(self) -> int:
        return max((len(c) for c in self.cols), default=0)


class HeapBuilder:
    """Compresses heaps in lock step and emits the registered sums.

    Parameters
    ----------
    m : Module or None
        Where the logic goes; None only counts levels and stages (a dry run).
    en : Value
        Clock enable of every pipeline register (the core's ``advance``).
    levels_per_stage : int or None
        Compressor levels between pipeline registers; ``None``: no intermediate registers.
    counter_inputs : int
        3: full adders (best for 4-input LUTs); 6: 6:3 counters (one LUT6 per output bit).
    input_levels : int
        LUT levels the input bits already went through in this cycle (counted against the
        first stage).
    name : str
        Prefix of the generated signal names.
    """

    def __init__(self, m, *, en, levels_per_stage: int | None, name: str, counter_inputs: int = 3,
                 input_levels: int = 0):
        if levels_per_stage is not None and levels_per_stage < 1:
            raise ValueError(f"levels_per_stage must be None or >= 1, got {levels_per_stage!r}")
        if counter_inputs not in (3, 6):
            raise ValueError(f"counter_inputs must be 3 or 6, got {counter_inputs!r}")
        self.counter_inputs = counter_inputs
        self.m = m
        self.en = en
        self.levels_per_stage = levels_per_stage
        self.name = name
        # compressor levels done since the last register (the inputs' own logic counts)
        self.level = input_levels
        self.stages = 0         # pipeline registers inserted so far
        self._n = 0

    def _sig(self, expr, tag: str) -> Signal:
        if self.m is None:
            return Const(0, 1)
        s = Signal(name=f"{self.name}_{tag}{self._n}")
        self._n += 1
        self.m.d.comb += s.eq(expr)
        return s

    def _reg(self, bit) -> Signal:
        if self.m is None:
            return Const(0, 1)
        r = Signal(name=f"{self.name}_s{self.stages}_{self._n}")
        self._n += 1
        with self.m.If(self.en):
            self.m.d.sync += r.eq(bit)
        return r

    def _count(self, bits: list, tag: str) -> list[Signal]:
        """A k:ceil(log2(k+1)) counter: bit m of popcount(bits) is the XOR of the ANDs of all
        2**m-subsets (Lucas: C(n, 2**m) mod 2 is bit m of n), one LUT per output bit."""
        out = []
        size = 1
        while size <= len(bits):
            terms = [_and(c) for c in combinations(bits, size)]
            acc = terms[0]
            for t in terms[1:]:
                acc = acc ^ t
            out.append(self._sig(acc, f"{tag}{size}_"))
            size *= 2
        return out

    def _level(self, heap: Heap) -> None:
        """One level over ``heap`` (in place): every column down to a target height (the
        next lower Dadda height, 2, 3, 4, 6, 9, 13, ...; about half the height with 6:3
        counters), largest counters first, a half adder where one bit too many is left,
        counting the bits that arrive from the columns below."""
        k = self.counter_inputs
        d = 2
        target = heap.height if k == 3 else max(3, heap.height // 2)
        while (d * 3) // 2 < target:
            d = (d * 3) // 2
        new = [[] for _ in range(heap.width + 2)]
        for c, bits in enumerate(heap.cols):
            bits = list(bits)
            while len(bits) + len(new[c]) > d:
                excess = len(bits) + len(new[c]) - d
                if k == 6 and excess >= 5 and len(bits) >= 6:
                    n = 6
                elif excess >= 2 and len(bits) >= 3:
                    n = 3
                elif len(bits) >= 2:
                    n = 2
                else:
                    break
                group, bits = bits[:n], bits[n:]
                for w, out in enumerate(self._count(group, "q")):
                    new[c + w].append(out)
            new[c].extend(bits)
        heap.cols = new[:heap.width]

    def _cut(self, heaps) -> None:
        """Register every live bit of every heap (a pipeline stage)."""
        for h in heaps:
            h.cols = [[self._reg(b) for b in col] for col in h.cols]
        self.stages += 1
        self.level = 0

    def compress(self, heaps: list[Heap]) -> None:
        """Full-adder levels until every heap has at most two bits per column."""
        while any(h.height > 2 for h in heaps):
            if self.levels_per_stage is not None and self.level == self.levels_per_stage:
                self._cut(heaps)
            for h in heaps:
                if h.height > 2:
                    self._level(h)
            self.level += 1

    def rows(self, heap: Heap) -> list[list[Value]]:
        """A compressed heap (height <= 2) as two rows of bits; the constant is not included."""
        if heap.height > 2:
            raise ValueError("compress the heap first")
        return [[col[r] if len(col) > r else 0 for col in heap.cols] for r in range(2)]

    def finish(self, heaps: list[Heap], names: list[str]) -> list[Signal]:
        """Compress, add the two rows and the constant, and register: one signed Signal each.

        The final register counts as a pipeline stage (``self.stages`` includes it).
        """
        self.compress(heaps)
        self.stages += 1
        if self.m is None:
            return [Signal(signed(h.width), name=nm) for h, nm in zip(heaps, names)]
        outs = []
        for h, nm in zip(heaps, names):
            a, b = ([Const(x, 1) if isinstance(x, int) else x for x in row] for row in self.rows(h))
            mask = (1 << h.width) - 1
            total = Cat(*a) + Cat(*b) + Const(h.const & mask, h.width)
            out = Signal(signed(h.width), name=nm)
            with self.m.If(self.en):
                self.m.d.sync += out.eq(total[:h.width])
            outs.append(out)
        return outs
