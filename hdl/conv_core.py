# amaranth: UnusedElaboratable=no
"""The BS4NN core for convolutional networks: event stages, then the dense layers.

Same ports, controller, decision and dense layers as ``BS4NNCore`` (hdl/core.py); the layer
list is built from the artifacts' layers (docs/core.md, "Convolutional layers"):

* ``ConvFrontEnd`` (hdl/conv_front_end.py): the image's events as input events and step
  closes of the first conv layer;
* per event stage, a ``ConvLayer`` (hdl/conv_layer.py: banked potentials, events, compares
  by cell) and a ``PoolLayer`` (hdl/pool_layer.py: OR of fired flags; the stage's spikes),
  then a ``SpikeQueue`` (hdl/spike_queue.py) into the next stage's conv layer, or a
  ``Flatten`` (hdl/flatten.py) into the first ``DenseLayer``;
* ``Decision``, ``ConvSpikeReporter`` (hdl/conv_reporter.py) and ``Controller``.

``make_core`` picks this core or ``BS4NNCore`` from the artifacts' layer kinds.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from .control import Controller
from .conv_front_end import ConvFrontEnd
from .conv_layer import ConvLayer
from .conv_network import ConvNetwork
from .conv_reporter import ConvSpikeReporter, ReportSource
from .core import BS4NNCore, connect_decision
from .decision import Decision
from .dense_layer import DenseLayer
from .flatten import Flatten
from .network import event_layout, result_layout, spike_layout
from .pool_layer import PoolLayer
from .spike_queue import SpikeQueue

__all__ = ["ConvCore", "make_core", "is_conv"]


def is_conv(art) -> bool:
    """Whether ``art`` (artifacts or a network) has conv layers."""
    return isinstance(art, ConvNetwork) or "conv" in (getattr(art, "kinds", None) or ())


def make_core(art, **params):
    """``ConvCore`` for artifacts with conv layers, else ``BS4NNCore`` (same keywords)."""
    return ConvCore(art, **params) if is_conv(art) else BS4NNCore(art, **params)


class ConvCore(wiring.Component):
    """Event-driven BS4NN core for ``(conv [pool])+ dense+`` networks; ports as BS4NNCore.

    Parameters
    ----------
    net : ConvNetwork or artifacts
    lanes : int or None
        Output channels updated (and compared) per cycle in each conv layer (at most its
        channels; None = all): a conv layer with C channels takes ``ceil(C / lanes)`` cycles
        per input event and per compared cell.
    debug_port, tree_levels, tree_counter : as BS4NNCore (the last two: the dense layers)
    rom_reg : bool
        Accepted for the common options; no effect (the conv pipeline is fixed).
    dsp_neurons, runtime_weights, events_per_cycle
        Must be 0 / False / 1 (not built for conv networks).
    """

    def __init__(self, net, *, lanes: int | None = None, debug_port: bool = True,
                 rom_reg: bool = True, tree_levels: int | None = 4, tree_counter: int = 3,
                 dsp_neurons: int = 0, runtime_weights: bool = False,
                 events_per_cycle: int = 1):
        if not isinstance(net, ConvNetwork):
            net = ConvNetwork.from_artifacts(net)
        if dsp_neurons or runtime_weights:
            raise ValueError("dsp_neurons and runtime_weights are not built for conv networks")
        if events_per_cycle != 1:
            raise ValueError("events_per_cycle > 1 is not built for conv networks (their front "
                             "end reads one event's kernel words per cycle)")
        self.events_per_cycle = 1
        widest = max(s.out_shape[0] for s in net.stages)
        if lanes is not None and (not isinstance(lanes, int) or not 1 <= lanes <= widest):
            raise ValueError(f"lanes must be None or an integer in 1..{widest} (output "
                             f"channels of the widest conv layer), got {lanes!r}")
        self.net, self.lanes, self.debug_port = net, lanes, bool(debug_port)
        self.rom_reg, self.dsp_neurons, self.runtime_weights = bool(rom_reg), 0, False
        self.tree_levels, self.tree_counter = tree_levels, tree_counter
        self.convs = [ConvLayer(s, lanes=min(lanes or s.out_shape[0], s.out_shape[0]))
                      for s in net.stages]
        self.pools = [PoolLayer(c) for c in self.convs]
        self.queues = [SpikeQueue(c) for c in self.convs[:-1]]
        self.flatten = Flatten(self.convs[-1])
        tail = net.tail
        self.dense = [DenseLayer(tail, l, tree_levels=tree_levels, tree_counter=tree_counter)
                      for l in range(tail.n_layers)]
        self.front_end = ConvFrontEnd(net.stages[0].in_shape)
        self.decision = Decision(tail)
        self.controller = Controller(tail.widths[-1], debug_port=self.debug_port)
        self.reporter = (ConvSpikeReporter(self._sources(), net.n_layers, max(net.widths[1:]))
                         if self.debug_port else None)
        super().__init__({
            "i_event": In(stream.Signature(event_layout(net.widths[0]))),
            "o_result": Out(stream.Signature(result_layout(tail.widths[-1]))),
            "o_spike": Out(stream.Signature(spike_layout(net.n_layers, max(net.widths[1:])))),
            "full": In(1), "debug": In(1)})

    @property
    def groups(self) -> tuple[int, ...]:
        """Cycles per input event (and per compared cell) of each conv layer."""
        return tuple(c.groups for c in self.convs)

    @property
    def timing(self) -> dict:
        """What hdl/conv_cycle_model.py needs: each stage's geometry and lanes, the dense
        layers' latencies, the decision's and the controller's (see docs/core.md)."""
        stages = [{"in_shape": list(c.stage.in_shape), "out_shape": list(c.stage.out_shape),
                   "kernel": c.kernel, "pad": c.stage.pad, "pool": c.stage.pool,
                   "lanes": c.lanes, "groups": c.groups, "conv_index": c.stage.conv_index,
                   "pool_index": c.stage.pool_index} for c in self.convs]
        return {"kind": "conv", "stages": stages,
                "layer_delays": [d.latency for d in self.dense],
                "decision_delay": self.decision.latency,
                "argmax_delay": self.decision.argmax_latency,
                "output_delay": self.controller.latency}

    def _sources(self) -> list[ReportSource]:
        """The reporter's sources: per stage its conv layer and pooling, then dense layers."""
        out = []
        for conv in self.convs:
            st, K, lanes = conv.stage, conv.kernel, conv.lanes
            cell = {"cy": range(conv.cells[0]), "cx": range(conv.cells[1]),
                    "g": range(conv.groups)}

            def conv_index(ctx, row, col, conv=conv, st=st, K=K, lanes=lanes):
                banks = conv.cell_banks(ctx["cy"], ctx["cx"])
                ys = Array([by * K + b // K for b, (by, _, _) in enumerate(banks)])
                xs = Array([bx * K + b % K for b, (_, bx, _) in enumerate(banks)])
                c = ctx["g"] * lanes + col
                _, h, w = st.out_shape
                return (c * h + ys[row]) * w + xs[row]
            out.append(ReportSource(st.conv_index, K * K, lanes, conv_index, dict(cell)))
            if st.pool_index is not None:
                _, hp, wp = st.pooled_shape

                def pool_index(ctx, row, col, lanes=lanes, hp=hp, wp=wp):
                    return ((ctx["g"] * lanes + col) * hp + ctx["cy"]) * wp + ctx["cx"]
                out.append(ReportSource(st.pool_index, 1, lanes, pool_index, dict(cell)))
        first = self.net.first_dense
        for l, n in enumerate(self.net.tail.widths[1:]):
            out.append(ReportSource(first + l, 1, n, lambda ctx, row, col: col))
        return out

    def elaborate(self, platform):
        m = Module()
        fe, dec, ctrl = self.front_end, self.decision, self.controller
        parts = [fe, *self.convs, *self.pools, *self.queues, self.flatten, *self.dense, dec]
        for name, part in zip(self._names(), parts):
            m.submodules[name] = part
        m.submodules.controller = ctrl
        connect(m, ctrl.ctl, *[p.ctl for p in parts + ([self.reporter] if self.reporter else [])])
        connect(m, flipped(self.i_event), fe.i_event)
        connect(m, fe.o, self.convs[0].i)
        for conv, pool in zip(self.convs, self.pools):
            connect(m, conv.o, pool.i)
        for pool, queue, conv in zip(self.pools, self.queues, self.convs[1:]):
            connect(m, pool.o, queue.i)
            connect(m, queue.o, conv.i)
        connect(m, self.pools[-1].o, self.flatten.i)
        connect(m, self.flatten.o, self.dense[0].i)
        for below, above in zip(self.dense, self.dense[1:]):
            connect(m, below.o, above.i)
        busy = [p.busy for p in [fe, *self.convs, *self.pools, *self.queues, self.flatten]]
        busy += [b for p in [*self.dense, dec] for b in p.busy]
        connect_decision(m, self, fe, self.dense[-1], dec, ctrl, busy)
        if self.reporter:
            self._connect_reporter(m)
        return m

    def _names(self) -> list[str]:
        n = len(self.convs)
        return (["front_end"] + [f"conv{k}" for k in range(n)] + [f"pool{k}" for k in range(n)]
                + [f"queue{k}" for k in range(n - 1)] + ["flatten"]
                + [f"dense{k}" for k in range(len(self.dense))] + ["decision"])

    def _connect_reporter(self, m) -> None:
        m.submodules.reporter = rep = self.reporter
        k = 0
        for conv, pool in zip(self.convs, self.pools):
            feeds = [conv.o.cross] + ([pool.new] if conv.stage.pool_index is not None else [])
            for bits in feeds:
                src = getattr(rep, f"src{k}")
                m.d.comb += [src.bits.eq(bits), src.time.eq(conv.o.time), src.cy.eq(conv.o.cy),
                             src.cx.eq(conv.o.cx), src.g.eq(conv.o.g)]
                k += 1
        for layer in self.dense:
            src = getattr(rep, f"src{k}")
            m.d.comb += [src.bits.eq(layer.o.cross), src.time.eq(layer.o.time + 1)]
            k += 1
        m.d.comb += [rep.capture.eq(self.controller.capture),
                     self.controller.pending.eq(rep.pending)]
        connect(m, rep.o_spike, flipped(self.o_spike))
