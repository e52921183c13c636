"""hdl.build and its parts (boards, fit, reports): board list, unknown boards, the fit check and the build plan (no tools run)."""

import random
from types import SimpleNamespace

import numpy as np
import pytest

from hdl import boards, fit, reports
from hdl import build as B


def small_net(widths=(64, 32, 10), thetas=(6, 3), seed=0):
    """An artifact-like object (what contract.artifacts.load_artifacts returns, in miniature)."""
    rng = random.Random(seed)
    words = [[rng.getrandbits(widths[l + 1]) for _ in range(widths[l])]
             for l in range(len(widths) - 1)]
    weights = [np.array([[1 if (words[l][i] >> j) & 1 else -1 for i in range(widths[l])]
                         for j in range(widths[l + 1])], np.int8) for l in range(len(words))]
    return SimpleNamespace(widths=list(widths), thetas=list(thetas), weights=weights,
                           acc_bits=[int(np.ceil(np.log2(w + 1))) + 2 for w in widths[:-1]],
                           rom_words=lambda l: words[l], n_layers=len(widths) - 1)


def test_list_and_unknown_board(capsys):
    assert B.main(["--list-boards"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("arty", "ulx3s", "icebreaker"))
    assert B.main(["--board"]) == 0
    assert "arty" in capsys.readouterr().out
    assert B.main(["--board", "de10nano"]) == 2
    err = capsys.readouterr().err
    assert "unknown board 'de10nano'" in err and "icebreaker" in err


def test_missing_artifacts_is_one_error_line(tmp_path, capsys):
    assert B.main(["--board", "arty", "--artifacts", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "none" in err


def test_seed_only_for_nextpnr_boards(tmp_path, capsys):
    assert B.main(["--board", "arty", "--seed", "2", "--artifacts", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--seed" in err and "arty" in err


def test_fit_check():
    authors = small_net((784, 600, 10), (25, 12))
    arty = boards.BOARDS["arty"]
    params = boards.board_core_params(arty, authors, {})
    ok, lines = fit.fit_check(authors, params, arty, arty.event_capacity, arty.image_capacity)
    assert ok and any("17 BRAM36" in l for l in lines)     # the 784 x 600 layer-0 ROM
    assert any("block RAM total      20 / 50" in l for l in lines)
    assert any("360 in 90 DSP slices" in l for l in lines)
    ok, lines = fit.fit_check(authors, {}, boards.BOARDS["icebreaker"], 512, 16)
    assert not ok and any("DOES NOT FIT" in l for l in lines)
    small = small_net((784, 64, 10), (25, 3))
    ok, _ = fit.fit_check(small, {}, boards.BOARDS["icebreaker"], 512, 16)
    assert ok
    assert fit.bram_blocks("xc7", 784, 600) == 17
    assert fit.bram_blocks("ice40", 784, 64) == 16


def test_board_core_params():
    authors = small_net((784, 600, 10), (25, 12))
    arty = boards.BOARDS["arty"]
    p = boards.board_core_params(arty, authors, {})
    assert p == {"tree_counter": 6, "tree_levels": 4, "dsp_neurons": 360}
    assert boards.board_core_params(arty, authors, {"lanes": 300})["dsp_neurons"] == 0
    assert boards.board_core_params(arty, authors, {"tree_levels": None})["tree_levels"] is None
    assert boards.board_core_params(arty, small_net((40, 10, 2), (2, 1)), {})["dsp_neurons"] == 8
    assert boards.board_core_params(boards.BOARDS["ulx3s"], authors, {}).get("dsp_neurons", 0) == 0


def test_refuses_what_does_not_fit(tmp_path):
    big = small_net((784, 600, 10))
    r = B.build(boards.BOARDS["icebreaker"], big, out=tmp_path, run_tools=False, log=lambda *_: None)
    assert not r["fits"] and "plan" not in r
    assert not any(tmp_path.iterdir())


def test_arty_plan_written(tmp_path):
    r = B.build(boards.BOARDS["arty"], small_net(), out=tmp_path, run_tools=False,
                log=lambda *_: None)
    assert r["fits"]
    for f in ("bs4nn.v", "bs4nn.xdc", "bs4nn.tcl", "build_bs4nn.sh"):
        assert (tmp_path / f).is_file(), f
    xdc = (tmp_path / "bs4nn.xdc").read_text()
    assert "E3" in xdc            # the Arty's 100 MHz clock pin
    assert "xc7a35ticsg324" in (tmp_path / "bs4nn.tcl").read_text().lower()


def test_nextpnr_report_parser(tmp_path):
    log = tmp_path / "x.tim"
    log.write_text("Info: Device utilisation:\n"
                   "Info: \t          TRELLIS_COMB:  1234/ 83640     1%\n"
                   "Info: \t            DP16KD:    40/   208    19%\n"
                   "Info: \t        MULT18X18D:     0/   156     0%\n\n"
                   "Info: Max frequency for clock '$glbnet$clk': 87.65 MHz (PASS at 25.00 MHz)\n"
                   "Info: Max frequency for clock '$glbnet$clk': 101.20 MHz (PASS at 100.00 MHz)\n")
    util, fmax = reports.nextpnr_report(log)
    assert ("TRELLIS_COMB", 1234, 83640) in util and ("DP16KD", 40, 208) in util
    assert fmax == [("$glbnet$clk", 101.2, "PASS", 100.0)]


def test_critical_path_parser(tmp_path):
    """The last clock-to-clock path of a nextpnr log, net by net (the cross-domain ones and
    earlier reports are not it)."""
    log = tmp_path / "x.tim"
    path = ("Info: Critical path report for clock '$glbnet$clk' (posedge -> posedge):\n"
            "Info:       type curr  total name\n"
            "Info:   clk-to-q  0.52  0.52 Source top.core.a_FF.Q\n"
            "Info:    routing  {d}  3.59 Net top.core.a (10,16) -> (5,55)\n"
            "Info:                          Sink top.core.b_LUT4.C\n"
            "Info:      logic  0.24  3.83 Source top.core.b_LUT4.F\n"
            "Info:    routing  2.97  6.80 Net top.core.b (5,55) -> (8,25)\n"
            "Info:                          Sink top.core.c_FF.CE\n"
            "Info:      setup  0.00  6.80 Source top.core.c_FF.CE\n"
            "Info: 0.76 ns logic, {r} ns routing\n\n")
    log.write_text(path.format(d="9.99", r="12.96")
                   + "Info: Critical path report for cross-domain path '<async>' -> 'x':\n\n"
                   + path.format(d="3.07", r="6.04")
                   + "Info: Critical path report for cross-domain path '<async>' -> 'y':\n"
                   "Info:    routing  1.51  1.51 Net top.link.rx (0,89) -> (6,88)\n\n")
    assert reports.critical_path(log) == [
        "critical path ($glbnet$clk): top.core.a_FF.Q -> top.core.c_FF.CE",
        "   3.07 ns  top.core.a (10,16) -> (5,55)",
        "   2.97 ns  top.core.b (5,55) -> (8,25)",
        "  0.76 ns logic, 6.04 ns routing"]
    (tmp_path / "none.tim").write_text("Info: Max frequency for clock 'clk': 1.00 MHz\n")
    assert reports.critical_path(tmp_path / "none.tim") == []


def test_xc7_cell_counts():
    cells = {"LUT6": 10, "INV": 2, "RAM64X1D": 3, "FDRE": 7, "FDSE": 1, "RAMB36E1": 2,
             "RAMB18E1": 3, "DSP48E1": 4, "CARRY4": 5, "MUXF7": 6, "MUXF8": 1, "BUFG": 1}
    u = reports.xc7_utilisation(cells)
    assert u == {"LUT": 12, "LUTRAM": 6, "FF": 8, "BRAM36": 3.5, "DSP": 4, "CARRY4": 5,
                 "MUXF7/8": 7}


def test_ulx3s_plan_has_pll(tmp_path):
    r = B.build(boards.BOARDS["ulx3s"], small_net(), out=tmp_path, run_tools=False, clock=100_000_000,
                log=lambda *_: None)
    assert r["fits"]
    il = (tmp_path / "bs4nn.il").read_text()          # the Lattice flow reads RTLIL
    assert "EHXPLLL" in il and "CLKFB_DIV" in il
    assert (tmp_path / "build_bs4nn.sh").is_file() and (tmp_path / "bs4nn.lpf").is_file()
    assert "--freq 100" in (tmp_path / "build_bs4nn.sh").read_text()
    assert "--seed" not in (tmp_path / "build_bs4nn.sh").read_text()
    B.build(boards.BOARDS["ulx3s"], small_net(), out=tmp_path / "s", run_tools=False,
            clock=100_000_000, seed=7, log=lambda *_: None)
    assert "--freq 100 --seed 7" in (tmp_path / "s" / "build_bs4nn.sh").read_text()
    with pytest.raises(ValueError, match="multiple"):
        B.build(boards.BOARDS["ulx3s"], small_net(), out=tmp_path / "x", run_tools=False,
                clock=90_000_000, log=lambda *_: None)
