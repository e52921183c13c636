"""The virtual board's top: ``SerialLink`` (UART included) plus a ``busy`` probe, in Verilator.

The Verilog top ``vboard`` has the link's pins (``rx``, ``tx``, ``leds``) and one more output,
``busy``: a frame is being answered (the frame receiver holds it until its last reply byte is
handed to the UART) or the UART transmitter is sending. The C++ harness
(``sim/board_harness.cpp``) lets the clock stop only while ``busy`` is low, no byte is on
its way in and the line has been silent for longer than the link's receive timeout (so a
half-received frame has been dropped): from then on nothing in the board changes until the
next byte, so the pause is invisible to the protocol.

Built once per network x core options x divisor x capacities (``sim_build/vboard-<key>/``).
"""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from amaranth import ClockDomain, Module
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from contract.files import atomic_path
from hdl.board import SerialLink
from hdl.core import BS4NNCore, CoreNetwork

REPO = Path(__file__).resolve().parent.parent
HARNESS = Path(__file__).with_name("board_harness.cpp")
TOP = "vboard"


class ProbedLink(wiring.Component):
    """``SerialLink`` with its pins, and ``busy`` (see the module docstring)."""

    clk: In(1)
    rx: In(1, init=1)
    tx: Out(1, init=1)
    leds: Out(8)
    busy: Out(1)

    def __init__(self, link: SerialLink):
        self.link = link
        link._MustUse__silence = True       # elaborated here, through its module
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        # No reset input: registers start at their initial values. A reset port would feed
        # every register's next-state logic, which Verilator then evaluates twice a cycle.
        m.domains.sync = sync = ClockDomain("sync", reset_less=True)
        m.d.comb += sync.clk.eq(self.clk)
        # the link's own module, so that its receiver and UART are reachable
        m.submodules.link = inner = self.link.elaborate(platform)
        receiver, uart_tx = inner.submodules.receiver, inner.submodules.uart_tx
        m.d.comb += [self.link.rx.eq(self.rx), self.tx.eq(self.link.tx),
                     self.leds.eq(self.link.leds),
                     self.busy.eq(receiver.o_frame.valid | ~uart_tx.i_data.ready)]
        return m


def _sources_key(parts: list) -> str:
    h = hashlib.sha256(json.dumps(parts, sort_keys=True).encode())
    for p in sorted((REPO / "hdl").glob("*.py")) + [Path(__file__), HARNESS]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def board_binary(art, artifacts: Path, *, divisor: int, timeout: int, event_capacity: int,
                 image_capacity: int, core_params: dict, build_root: Path | None = None,
                 log=print) -> Path:
    """The Verilated board's executable, built if no build with the same key exists."""
    roms = [lay["rom"]["files"]["mem"]["sha256"] for lay in art.manifest["layers"]]
    key = _sources_key([art.widths, list(art.thetas), roms, sorted(core_params.items()),
                        divisor, timeout, event_capacity, image_capacity])
    out = Path(build_root or REPO / "sim_build") / f"vboard-{key}"
    exe = out / TOP
    if (out / "build.ok").is_file() and exe.is_file():
        return exe
    log(f"building the virtual board in {out} (Verilator; minutes for a large network)")
    out.mkdir(parents=True, exist_ok=True)
    core = BS4NNCore(CoreNetwork.from_artifacts(art), **core_params)
    link = SerialLink(core, divisor=divisor, n_in=int(art.widths[0]), timeout=timeout,
                      event_capacity=event_capacity, image_capacity=image_capacity)
    with atomic_path(out / "board.v") as tmp:
        tmp.write_text(verilog.convert(ProbedLink(link), name=TOP))
    _verilate(out)
    (out / "build.ok").write_text(f"{artifacts}\n")
    return exe


def _verilate(out: Path) -> None:
    from sim.build import _tool_env
    _tool_env("verilator")
    obj = out / "obj"
    shutil.rmtree(obj, ignore_errors=True)
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "-Wno-lint",
           "-Wno-style", "--x-assign", "fast", "--x-initial", "fast", "--noassert",
           "--top-module", TOP, "-Mdir", str(obj), "-o", str((out / TOP).resolve()),
           str(out / "board.v"), str(HARNESS)]
    with open(out / "build.log", "w") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"Verilator build failed (see {out / 'build.log'})")
