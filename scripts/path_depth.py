"""Rank the register-to-register paths of a synthesized ECP5 netlist, before place and route.

    python scripts/path_depth.py build/bench_ulx3s_conv/bs4nn.json [--top 25] [--path NAME]

Reads the JSON netlist Yosys writes for nextpnr (the board build's ``bs4nn.json``) and
estimates each endpoint's arrival time with a crude per-cell model (a LUT level about 1 ns
with its wire, a carry cell 0.1 ns along the chain, a block RAM's clock-to-output 4 ns,
LUT RAM read 1.5 ns). The figures are not nextpnr's: they rank the endpoint groups (flip-flop
or memory names without bit indices) so that every path class near the clock period is seen
at once, where nextpnr's report names only the worst. ``--path`` prints the cells of the
worst path into the endpoints whose name contains NAME.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict

WIRE = 0.6
LOGIC = {"LUT4": 0.4, "PFUMX": 0.2, "L6MUX21": 0.2}
START = {"TRELLIS_FF": 0.5, "DP16KD": 4.0, "MULT18X18D": 3.0, "ALU54B": 3.0}


def _cell_type(t: str) -> str:
    return t.split("\\")[-1]


def _endpoint_name(name: str, nets: dict, port_bits) -> str:
    """A group name: the net the flip-flop drives (or the memory's name), bits removed."""
    label = name
    for b in port_bits:
        if b in nets:
            label = nets[b]
            break
    label = re.sub(r"_TRELLIS_FF.*|_LUT4_.*|\[\d+\]|\$\d+|_\d+$", "", label.split("|")[-1])
    return label


def analyse(path: str):
    with open(path) as f:
        d = json.load(f)
    top = next(m for m in d["modules"].values() if m.get("attributes", {}).get("top"))
    cells = top["cells"]
    nets = {}
    for n, v in top["netnames"].items():
        if v.get("hide_name"):
            continue
        for b in v["bits"]:
            if isinstance(b, int):
                nets.setdefault(b, n)
    driver = {}
    for cname, c in cells.items():
        for port, dirn in c.get("port_directions", {}).items():
            if dirn == "output":
                for b in c["connections"][port]:
                    if isinstance(b, int):
                        driver[b] = (cname, port)
    arrival, via = {}, {}
    sys.setrecursionlimit(100000)

    def out_time(cname, port):
        key = (cname, port)
        if key in arrival:
            return arrival[key]
        c = cells[cname]
        t = _cell_type(c["type"])
        if t in START:
            arrival[key] = START[t]
            return arrival[key]
        if t == "TRELLIS_DPR16X4":              # asynchronous read from the read address
            ins = [p for p in c["connections"] if p.startswith("RAD")]
            base = 1.5
        elif t == "CCU2C":
            ins = [p for p in c["connections"] if p not in ("S0", "S1", "COUT")]
            base = 0.6
        elif t in LOGIC:
            ins = [p for p, dirn in c["port_directions"].items() if dirn == "input"]
            base = LOGIC[t]
        else:
            arrival[key] = 0.0
            return 0.0
        arrival[key] = 0.0                      # breaks loops
        best, arg = 0.0, None
        for p in ins:
            for b in c["connections"][p]:
                if not isinstance(b, int) or b not in driver:
                    continue
                dc, dp = driver[b]
                hop = 0.0 if (t == "CCU2C" and p == "CIN") or t in ("PFUMX", "L6MUX21") else WIRE
                step = 0.1 if (t == "CCU2C" and p == "CIN" and port == "COUT") else base
                v = out_time(dc, dp) + hop + step
                if v > best:
                    best, arg = v, (dc, dp)
        arrival[key], via[key] = best, arg
        return best

    groups = defaultdict(lambda: (0.0, None, 0))
    for cname, c in cells.items():
        t = _cell_type(c["type"])
        if t == "TRELLIS_FF":
            ports = ["DI", "CE", "LSR", "M"]
        elif t in ("DP16KD", "TRELLIS_DPR16X4", "MULT18X18D"):
            ports = [p for p, dirn in c["port_directions"].items()
                     if dirn == "input" and not p.startswith("CLK") and not p.startswith("RAD")
                     and p != "WCK"]
        else:
            continue
        worst, arg = 0.0, None
        for p in ports:
            for b in c["connections"].get(p, []):
                if isinstance(b, int) and b in driver:
                    v = out_time(*driver[b]) + WIRE
                    if v > worst:
                        worst, arg = v, driver[b]
        outs = [b for p, dirn in c["port_directions"].items() if dirn == "output"
                for b in c["connections"][p]] if t == "TRELLIS_FF" else []
        name = _endpoint_name(cname, nets, outs) if outs else t + ":" + re.sub(
            r"\$\d+", "", cname.split("|")[-1])
        old = groups[name]
        groups[name] = (max(old[0], worst), arg if worst >= old[0] else old[1], old[2] + 1)
    return groups, via, cells, nets


def trace(arg, via, cells, nets) -> list[str]:
    out = []
    while arg is not None:
        cname, port = arg
        t = _cell_type(cells[cname]["type"])
        bits = cells[cname]["connections"][port]
        out.append(f"{t:16s} {nets.get(bits[0], cname)[-90:]}")
        arg = via.get(arg)
    return out[::-1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("netlist", help="Yosys JSON netlist (a board build's bs4nn.json)")
    ap.add_argument("--top", type=int, default=25, help="endpoint groups to list (25)")
    ap.add_argument("--path", action="append", default=[],
                    help="print the worst path into endpoints whose name contains this")
    a = ap.parse_args(argv)
    try:
        groups, via, cells, nets = analyse(a.netlist)
    except (OSError, ValueError, KeyError, StopIteration) as e:
        print(f"error: {a.netlist}: not a Yosys JSON netlist ({e})", file=sys.stderr)
        return 2
    ranked = sorted(groups.items(), key=lambda kv: -kv[1][0])
    print(f"{'est. ns':>8} {'bits':>6}  endpoint group")
    for name, (t, _, n) in ranked[:a.top]:
        print(f"{t:8.1f} {n:6d}  {name}")
    for want in a.path:
        hits = [(n, g) for n, g in ranked if want in n]
        if not hits:
            print(f"\nno endpoint group contains {want!r}")
            continue
        name, (t, arg, _) = hits[0]
        print(f"\nworst path into {name} ({t:.1f} ns est.):")
        for line in trace(arg, via, cells, nets):
            print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
