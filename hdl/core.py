# amaranth: UnusedElaboratable=no
"""The BS4NN inference core: an event-driven pipeline of binary integrate-and-fire layers.

Numerics are docs/numerics.md exactly; ports, parts and timing are docs/core.md. The core is
a composition of parts, each one idea with its own latency:

* ``FrontEnd`` (hdl/front_end.py): the event stream, one ROM read per row group, step closing;
* a layer list: ``InputLayer`` (hdl/input_layer.py: weight ROM and +-1 counters), then one
  ``DenseLayer`` (hdl/dense_layer.py: carry-save trees over the fired vector below) per
  deeper weight layer; every layer takes the compares of the one below (``layer_out``) and
  hands on its own, so a new layer kind is one component and one entry in the list;
* ``Decision`` (hdl/decision.py): first crossing, ties, argmax, no-spike fallback;
* ``SpikeReporter`` (hdl/spike_reporter.py): every spike on ``o_spike`` (``debug_port``);
* ``Controller`` (hdl/control.py): the phases, the pipeline's advance, cycles and the result;
* with ``runtime_weights``, ``WeightLoader`` (hdl/weight_loader.py): weights and thresholds
  from the ``i_load`` stream into the layers' RAM and registers.

``BS4NNCore.timing`` collects the parts' latencies; ``hdl/cycle_model.py`` turns them and a
spike trace into the exact cycle count of an image.
"""
from __future__ import annotations

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from .control import Controller
from .decision import Decision
from .dense_layer import DenseLayer
from .front_end import FrontEnd
from .input_layer import InputLayer
from .network import CoreNetwork, event_layout, result_layout, spike_layout
from .pipeline import Phase, reset_less_domain
from .spike_reporter import SpikeReporter
from .trees import any_of
from .weight_loader import WeightLoader, load_layout

__all__ = ["BS4NNCore", "CoreNetwork", "event_layout", "result_layout", "spike_layout"]

MAX_EVENTS_PER_CYCLE = 8       # ROM read ports (a true dual-port block RAM gives two)


def connect_decision(m, core, fe, last, dec, ctrl, in_flight) -> None:
    """Wire a core's last dense layer ``last`` into its decision ``dec`` and controller
    ``ctrl``: potentials, the core's ``full`` / ``debug``, the front end's start and end of
    input, ``empty`` once the front end is quiet and nothing in ``in_flight`` is busy, the
    decision's verdict, and the result stream out of the core."""
    connect(m, last.o, dec.i)
    m.d.comb += [dec.potentials.eq(last.potentials),
                 dec.full.eq(ctrl.run_full), dec.done.eq(ctrl.done),
                 ctrl.full.eq(core.full), ctrl.debug.eq(core.debug),
                 ctrl.start.eq(fe.start), ctrl.input_over.eq(fe.input_over),
                 ctrl.empty.eq(fe.quiet & ~any_of(in_flight)),
                 ctrl.decided.eq(dec.decided), ctrl.label_ready.eq(dec.label_ready),
                 ctrl.verdict.eq(dec.verdict)]
    connect(m, ctrl.o_result, flipped(core.o_result))


def _check_int(name: str, value, low: int, high: int | None = None, *, none_ok: bool = False):
    if none_ok and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < low or \
            (high is not None and value > high):
        span = f"in {low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {'None or ' if none_ok else ''}an integer {span}, "
                         f"got {value!r}")


class BS4NNCore(wiring.Component):
    """Event-driven BS4NN inference core.

    Parameters
    ----------
    net : CoreNetwork or artifacts
        The network (a ``contract.artifacts.Artifacts`` is converted with
        ``CoreNetwork.from_artifacts``).
    lanes : int or None
        First-layer neurons updated per cycle (1 .. N1; None = N1, full parallelism). An
        event then takes ``ceil(N1 / lanes)`` cycles and the ROM is that many times deeper
        and narrower.
    debug_port : bool
        Build the spike reporter. When False, ``o_spike`` stays in the signature but never
        becomes valid, and ``debug`` is ignored.
    rom_reg : bool
        A register stage between the weight ROM and the first-layer counters (one cycle of
        latency, a shorter clock path).
    tree_levels : int or None
        Compressor levels between pipeline registers in the deeper layers' trees (None: the
        whole tree in one cycle). Fewer levels: a faster clock, a few more cycles per image.
    tree_counter : int
        The trees' compressors: 3 (full adders; suits 4-input LUTs, e.g. ECP5, iCE40) or 6
        (6:3 counters, one LUT6 per output bit; fewer LUTs on Xilinx 7-series).
    dsp_neurons : int
        First-layer counters placed in Xilinx DSP48E1 SIMD lanes (a multiple of 4; needs
        full parallelism; the Verilog then instantiates ``DSP48E1``). 0 = portable logic.
    runtime_weights : bool
        Build for the network's shape only: weights and thresholds are loaded through
        ``i_load`` (hdl/weight_loader.py), no image is taken before a complete load.
    events_per_cycle : int
        Input events per ``i_event`` beat, K (1 .. 8): a beat carries up to K events of one
        step, the weight ROM has K read ports and the first-layer counters step by -K..+K.

    Members
    -------
    i_event : In(stream)  time u8, addr, last u1 (K > 1: + more_addr, more_valid) -- one
        image's events sorted by (time, addr), in beats of up to K events of one step
    o_result : Out(stream)  label, step u8, tie, no_spike, cycles u32, times N_out x u9
    o_spike : Out(stream)  layer, neuron, time u9 -- every spike, while ``debug`` is 1
    full : In(1)  1: run the whole image (every spike time); 0: stop at the decision
    debug : In(1)  1: report every spike on ``o_spike`` (the core stalls while it does)
    i_load : In(stream)  (runtime_weights only) data u32, first u1 -- a network's load words
    loaded : Out(1)  (runtime_weights only) a complete load is in place

    ``full`` and ``debug`` are sampled when an image's first event arrives.

    Raises
    ------
    ValueError
        Bad ``lanes``, ``tree_levels``, ``tree_counter``, ``dsp_neurons`` or
        ``events_per_cycle``, or a network the core cannot run (see ``CoreNetwork.build``).
    """

    def __init__(self, net, *, lanes: int | None = None, debug_port: bool = True,
                 rom_reg: bool = True, tree_levels: int | None = 4, tree_counter: int = 3,
                 dsp_neurons: int = 0, runtime_weights: bool = False, events_per_cycle: int = 1):
        if not isinstance(net, CoreNetwork):
            net = CoreNetwork.from_artifacts(net)
        self.runtime_weights = bool(runtime_weights)
        if self.runtime_weights:
            net = net.for_runtime()
        w = net.widths
        lanes = w[1] if lanes is None else lanes
        _check_int("lanes", lanes, 1, w[1])
        _check_int("tree_levels", tree_levels, 1, none_ok=True)
        _check_int("events_per_cycle", events_per_cycle, 1, MAX_EVENTS_PER_CYCLE)
        self.events_per_cycle = events_per_cycle
        if tree_counter not in (3, 6) or isinstance(tree_counter, bool):
            raise ValueError(f"tree_counter must be 3 or 6, got {tree_counter!r}")
        self.net, self.lanes, self.debug_port = net, lanes, bool(debug_port)
        self.tree_levels, self.tree_counter, self.dsp_neurons = tree_levels, tree_counter, dsp_neurons
        # The layer list: weight layer 0 is event driven, the deeper ones dense.
        self.layers = [InputLayer(net, lanes=lanes, rom_reg=rom_reg, dsp_neurons=dsp_neurons,
                                  events_per_cycle=events_per_cycle)]
        self.layers += [DenseLayer(net, l, tree_levels=tree_levels, tree_counter=tree_counter)
                        for l in range(1, net.n_layers)]
        self.front_end = FrontEnd(w[0], self.layers[0].groups, events_per_cycle)
        self.decision = Decision(net)
        self.reporter = SpikeReporter(w[1:]) if self.debug_port else None
        self.controller = Controller(w[-1], debug_port=self.debug_port)
        ports = {
            "i_event": In(stream.Signature(event_layout(w[0], events_per_cycle))),
            "o_result": Out(stream.Signature(result_layout(w[-1]))),
            "o_spike": Out(stream.Signature(spike_layout(net.n_layers, max(w[1:])))),
            "full": In(1),
            "debug": In(1),
        }
        self.loader = None
        if self.runtime_weights:
            self.loader = WeightLoader(w, self.layers[0].groups)
            ports.update(i_load=In(stream.Signature(load_layout())), loaded=Out(1))
        super().__init__(ports)

    @property
    def groups(self) -> int:
        """ROM reads per event."""
        return self.layers[0].groups

    @property
    def rom_reg(self) -> bool:
        return self.layers[0].rom_reg

    @property
    def timing(self) -> dict:
        """The parts' latencies, for ``hdl/cycle_model.py`` (see docs/core.md).

        groups: ROM reads per beat; events_per_cycle: events per beat (K); rom_reg: the input
        layer's latency beyond its ROM read (0/1); layer_delays[l - 1]: deeper layer l's
        latency; decision_delay: the decision's register stage; argmax_delay: extra cycles of
        a tie or no-spike decision; output_delay: the controller's result register.
        """
        first = self.layers[0]
        return {"groups": first.groups, "events_per_cycle": self.events_per_cycle,
                "rom_reg": first.latency - 1,
                "layer_delays": [layer.latency for layer in self.layers[1:]],
                "decision_delay": self.decision.latency, "output_delay": self.controller.latency,
                "argmax_delay": self.decision.argmax_latency}

    def elaborate(self, platform):
        m = Module()
        fe, dec, ctrl, layers = self.front_end, self.decision, self.controller, self.layers
        # Only the controller (and the weight loader) see the domain's reset: a reset puts the
        # controller in its CLEAR cycle, and that clears every other part (docs/core.md,
        # "The clock"), so no reset net OR'd with the clear reaches their flip-flops.
        quiet = reset_less_domain(m)
        m.submodules.front_end = quiet(fe)
        for l, layer in enumerate(layers):
            m.submodules[f"layer{l}"] = quiet(layer)
        m.submodules.decision, m.submodules.controller = quiet(dec), ctrl
        parts = [fe, *layers, dec] + ([self.reporter] if self.reporter else [])
        connect(m, ctrl.ctl, *[p.ctl for p in parts])
        if self.loader:
            self._connect_loader(m)
        else:
            connect(m, flipped(self.i_event), fe.i_event)
        connect(m, fe.o, layers[0].i)
        for below, above in zip(layers, layers[1:]):
            connect(m, below.o, above.i)
        connect_decision(m, self, fe, layers[-1], dec, ctrl,
                         [b for p in [*layers, dec] for b in p.busy])
        if self.reporter:
            rep = self.reporter
            m.submodules.reporter = quiet(rep)
            for l, layer in enumerate(layers):
                connect(m, layer.o, getattr(rep, f"layer{l}"))
            m.d.comb += [rep.capture.eq(ctrl.capture), ctrl.pending.eq(rep.pending)]
            connect(m, rep.o_spike, flipped(self.o_spike))
        return m

    def _connect_loader(self, m) -> None:
        """Load words only between images; image events only after a complete load."""
        m.submodules.loader = ld = self.loader
        fe = self.front_end
        connect(m, flipped(self.i_load), ld.i_load)
        connect(m, ld.o, *[layer.load for layer in self.layers])
        m.d.comb += [ld.idle.eq((self.controller.ctl.phase == Phase.IDLE) & ~fe.start),
                     self.loaded.eq(ld.loaded),
                     fe.i_event.payload.eq(self.i_event.payload),
                     fe.i_event.valid.eq(self.i_event.valid & ld.loaded),
                     self.i_event.ready.eq(fe.i_event.ready & ld.loaded)]
