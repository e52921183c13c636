"""sim.regress and sim.fuzz on a Dask cluster (docs/cluster.md): a local cluster of two worker
processes, one thread each, gives the same report as ``--jobs 2`` (Icarus, small networks)."""
from __future__ import annotations

import json
import shutil

import pytest
from distributed import LocalCluster  # the cluster extra (scripts/bootstrap.sh installs it): a missing one fails, not skips

pytestmark = pytest.mark.cluster


def needs_icarus(test):
    """Mark ``test`` as an Icarus run, skipped where iverilog is missing."""
    skip = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
    return pytest.mark.icarus(skip(test))


TIMING = {"bench_wall_s", "sim_cycles_per_s", "images_per_s", "build_s", "total_wall_s",
          "wall_s", "cases_s", "builds_s"}


@pytest.fixture(scope="module")
def scheduler():
    """The address of a local cluster: 2 worker processes x 1 thread."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def comparable(report: dict, *prefixes) -> dict:
    """A JSON report without its timing fields, its command line and the --scheduler it
    names; the paths under ``prefixes`` made relative."""
    text = json.dumps({**report, "command": None,
                       "summary": {k: v for k, v in report["summary"].items()
                                   if k not in TIMING | {"scheduler"}}})
    for p in prefixes:
        text = text.replace(str(p), "OUT")
    return json.loads(text)


@needs_icarus
def test_regress_on_the_cluster_matches_two_jobs(scheduler, tmp_path, data_dir):
    from sim.regress import main
    from tests.small_net import export_random_net
    art = export_random_net(tmp_path, data_dir, 8)
    common = [str(art), "--simulator", "icarus", "--random-every", "2", "--quiet",
              "--strict-cycles", "--plots", str(tmp_path / "plots")]
    assert main([*common, "--jobs", "2", "--json", str(tmp_path / "jobs.json")]) == 0
    assert main([*common, "--scheduler", scheduler, "--json", str(tmp_path / "dask.json")]) == 0
    local, dask = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("jobs", "dask"))
    assert dask["summary"]["jobs"] == 2 and dask["summary"]["scheduler"] == scheduler
    assert local["summary"]["images"] > 8 and local["summary"]["mismatches"] == 0
    assert local["summary"]["randomised_images"] > 0
    assert comparable(dask) == comparable(local)


@needs_icarus
def test_fuzz_on_the_cluster_matches_two_jobs(scheduler, tmp_path):
    """Networks with a flipped weight bit (--inject-fault), so that the records carry the
    failing images and their messages."""
    from sim.fuzz import main
    common = ["--nets", "3", "--seed", "3", "--images", "4", "--shapes", "1", "--shrink", "0",
              "--simulator", "icarus", "--inject-fault", "--quiet"]
    rc_local = main([*common, "--jobs", "2", "--out", str(tmp_path / "a"),
                     "--json", str(tmp_path / "jobs.json")])
    rc_dask = main([*common, "--scheduler", scheduler, "--out", str(tmp_path / "b"),
                    "--json", str(tmp_path / "dask.json")])
    local = json.loads((tmp_path / "jobs.json").read_text())
    dask = json.loads((tmp_path / "dask.json").read_text())
    assert rc_local == rc_dask == 1
    assert dask["summary"]["jobs"] == 2 and local["summary"]["networks"] == 3
    assert 0 < local["summary"]["failing"] < 3
    assert comparable(dask, tmp_path / "b") == comparable(local, tmp_path / "a")


def test_bad_scheduler_is_one_line(capsys, tmp_path):
    from sim.fuzz import main
    assert main(["--nets", "1", "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "0.5",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --scheduler tcp://127.0.0.1:1: cannot connect")
    assert not (tmp_path / "out").exists()


def test_worker_without_the_artifacts_is_one_line(tmp_path):
    """A worker that does not see the client's paths (docs/cluster.md) names itself."""
    from contract.errors import UsageError
    from sim.shards import run_on_worker
    recipe = {"artifacts": str(tmp_path / "nosuch"), "simulator": "icarus", "core_params": {},
              "waves": False, "build_root": str(tmp_path / "sim_build"), "build_key": None}
    with pytest.raises(UsageError, match=r"--scheduler: worker .* cannot make the bench: .*nosuch"):
        run_on_worker(recipe, "0" * 16, {}, None, "sim.bench")
