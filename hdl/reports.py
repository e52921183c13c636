"""Reading the tools' reports: Yosys ``stat -json`` cell counts of ``synth_xilinx`` as Xilinx
7-series resources, and nextpnr's utilisation and Fmax."""

import json
import re
from pathlib import Path

__all__ = ["XC7_CELLS", "yosys_cells", "xc7_utilisation", "utilisation_table", "nextpnr_report",
           "critical_path"]


def yosys_cells(stat_json):
    """{cell type: count} of the design in a Yosys ``stat -json`` file (log lines before the
    JSON are skipped)."""
    text = Path(stat_json).read_text()
    stat = json.loads(text[text.index("{"):])
    return stat.get("design", stat)["num_cells_by_type"]


XC7_CELLS = {
    "LUT": re.compile(r"^(LUT[1-6]|INV)$"),         # Yosys's INV cells become LUT1s
    "LUTRAM": re.compile(r"^RAM(32|64|128|256)[XM]"),
    "FF": re.compile(r"^FD[RSCP]E"),
    "BRAM36": re.compile(r"^RAMB36"),
    "BRAM18": re.compile(r"^RAMB18"),
    "DSP": re.compile(r"^DSP48"),
    "CARRY4": re.compile(r"^CARRY4$"),
    "MUXF7/8": re.compile(r"^MUXF[78]$"),
}
_LUTRAM_LUTS = {"RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1S": 4, "RAM32M": 4,
                "RAM64M": 4, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM32M16": 8,
                "RAM64M8": 8}


def xc7_utilisation(cells):
    """Resource counts from Yosys ``stat -json`` cell counts of synth_xilinx.

    LUT: LUT1..LUT6 and INV; LUTRAM: LUTs that distributed RAM cells take; FF: FD[RSCP]E;
    BRAM36: RAMB36 plus half a RAMB18 each; DSP: DSP48; CARRY4; MUXF7/8.
    """
    u = {"LUT": 0, "LUTRAM": 0, "FF": 0, "BRAM36": 0.0, "DSP": 0, "CARRY4": 0, "MUXF7/8": 0}
    for cell, n in cells.items():
        for k, rx in XC7_CELLS.items():
            if rx.match(cell):
                if k == "LUTRAM":
                    u["LUTRAM"] += n * _LUTRAM_LUTS.get(cell, 4)
                elif k == "BRAM18":
                    u["BRAM36"] += n / 2
                else:
                    u[k] += n
    return u


def utilisation_table(rows):
    """rows: (resource, used, available)."""
    out = [f"  {'resource':10s} {'used':>9s} {'available':>10s} {'%':>6s}"]
    for name, used, avail in rows:
        used_s = f"{used:g}" if isinstance(used, float) else str(used)
        out.append(f"  {name:10s} {used_s:>9s} {avail:>10d} {100 * used / avail:6.1f}")
    return "\n".join(out)


_NEXTPNR_UTIL = re.compile(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%")
_NEXTPNR_FMAX = re.compile(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz \((PASS|FAIL) at ([\d.]+) MHz\)")


def nextpnr_report(tim):
    """(utilisation rows, [(clock, fmax, PASS/FAIL, target)]) from a nextpnr log."""
    text = Path(tim).read_text(errors="replace")
    # the last "Device utilisation" block is the one after placement
    block = text[text.rfind("Device utilisation"):]
    util = []
    for name, used, avail, _ in _NEXTPNR_UTIL.findall(block.split("\n\n")[0]):
        if int(avail) > 0 and name not in {x[0] for x in util}:
            util.append((name, int(used), int(avail)))
    fmax = _NEXTPNR_FMAX.findall(text)
    last = {}
    for clk, f, verdict, target in fmax:
        last[clk] = (clk, float(f), verdict, float(target))   # the final report wins
    return util, list(last.values())


_PATH_HEAD = re.compile(r"Critical path report for clock '([^']+)'")
_PATH_NET = re.compile(r"Info:\s+routing\s+([\d.]+)\s+([\d.]+) Net (\S+) (\(\d+,\d+\)) -> (\(\d+,\d+\))")
_PATH_SUM = re.compile(r"Info: ([\d.]+) ns logic, ([\d.]+) ns routing")


def critical_path(tim) -> list[str]:
    """The last clock-to-clock critical path of a nextpnr log, one line per routed net
    (delay, net, from -> to tile) and a last line with the logic / routing split; [] when the
    log has none."""
    text = Path(tim).read_text(errors="replace")
    heads = list(_PATH_HEAD.finditer(text))
    if not heads:
        return []
    head = heads[-1]
    block = text[head.start():]
    block = block[:block.find("\n\n")] if "\n\n" in block else block
    cells = re.findall(r"Info:\s+(?:clk-to-q|setup|source)\s+[\d.]+\s+[\d.]+ Source (\S+)", block)
    lines = [f"critical path ({head.group(1)})"
             + (f": {cells[0]} -> {cells[-1]}" if len(cells) >= 2 else ":")]
    for delay, _, net, a, b in _PATH_NET.findall(block):
        lines.append(f"  {float(delay):5.2f} ns  {net} {a} -> {b}")
    summary = _PATH_SUM.search(block)
    if summary:
        lines.append(f"  {summary.group(1)} ns logic, {summary.group(2)} ns routing")
    return lines
