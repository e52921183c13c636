"""The bench harness's batch files (sim/batch_files.py) and its public ports
(sim/verilator_build.py): no simulator needed."""
from __future__ import annotations

import numpy as np

from sim.batch_files import read_hex, split_fields, write_hex
from sim.verilator_build import control_file, harness_ports
from sim.wrapper import TOP, bench_verilog


def test_hex_round_trip_of_wide_words(tmp_path):
    values = [0, 1, 0xABCDEF, (1 << 136) - 1, 1 << 100]
    write_hex(tmp_path / "w.hex", values)
    words, unknown = read_hex(tmp_path / "w.hex")
    assert words == values and unknown == [False] * len(values)


def test_unknown_digits_read_as_zero_and_are_flagged(tmp_path):
    (tmp_path / "x.hex").write_text("// written by $writememh\n@0\n1f\nx3\n\n0_0zZ\nAB // tail\n")
    words, unknown = read_hex(tmp_path / "x.hex")
    assert words == [0x1F, 0x03, 0, 0xAB]
    assert unknown == [False, True, True, False]


def test_split_fields_separates_image_and_payload():
    image, payload = split_fields([(3 << 20) | 0x5A5A5, (65535 << 20) | 1], 20)
    assert image.tolist() == [3, 65535] and payload.tolist() == [0x5A5A5, 1]
    empty = split_fields([], 20)
    assert empty[0].size == 0 and empty[0].dtype == np.int64


def test_only_the_harness_ports_are_made_public(tmp_path):
    v = bench_verilog("core", 19, 136, 20, 64, 610, 18, max_images=4, max_load=8)
    ports = harness_ports(v)
    assert ports[:5] == ["clk", "rst", "full", "debug", "start"]
    assert {"done", "sp_count", "ev_taken", "img_done", "now", "load_go", "load_done"} <= set(ports)
    assert not any(p.endswith("_mem") for p in ports)
    text = control_file(tmp_path / "p.vlt", ports).read_text().splitlines()
    assert text[0] == "`verilator_config"
    assert text[1] == f'public_flat_rw -module "{TOP}" -var "clk"' and len(text) == len(ports) + 1
