"""Where the shards of a run go: simulator processes here, or the workers of a Dask cluster.

    from sim.shards import LocalShards, connect
    reports = LocalShards(2).run(shards)                   # two simulator processes at once
    cluster = connect("tcp://host:8786")                   # docs/cluster.md
    reports = cluster.run(shards)

A shard is one cocotb run of a built bench (sim/build.py, ``Bench.run_job``) on part of the
work; both runners return the shards' reports in the order given, so the callers
(``Bench.run``, sim/fuzz.py) merge them the same way wherever they ran. A Dask worker makes
its own ``Bench`` from the client's recipe (artifact directory, simulator, core parameters,
build root), which reuses the client's build on a shared filesystem or builds it once on that
machine, and refuses to run a core other than the client's (another build key).
"""
from __future__ import annotations

import asyncio
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from contract.cli import describe
from contract.errors import InputError, UsageError

CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Shard:
    """One cocotb run: ``bench.run_job(job, log_file, test_module)``."""
    bench: object
    job: dict
    log_file: str | Path | None = None
    test_module: str = "sim.bench"


class LocalShards:
    """Shards in simulator processes on this machine, ``processes`` at once."""

    def __init__(self, processes: int):
        self.processes = processes

    def run(self, shards: list[Shard]) -> list[dict]:
        with ThreadPoolExecutor(max(1, min(self.processes, len(shards)))) as pool:
            return list(pool.map(lambda s: s.bench.run_job(s.job, s.log_file, s.test_module),
                                 shards))


class DaskShards:
    """Shards as tasks of a Dask cluster (``client``: a connected distributed.Client)."""

    def __init__(self, client, address: str):
        self.client, self.address = client, address

    @property
    def threads(self) -> int:
        """Worker threads in the cluster: the shards it runs at once."""
        return sum(self.client.nthreads().values())

    def run(self, shards: list[Shard]) -> list[dict]:
        futures = [self.client.submit(run_on_worker, s.bench.recipe(), s.bench.key,
                                      dict(s.job, progress=False), s.log_file, s.test_module,
                                      pure=False)
                   for s in shards]
        return self.client.gather(futures)

    def close(self) -> None:
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(address: str, timeout: float = CONNECT_TIMEOUT_S) -> DaskShards:
    """A connection to the Dask scheduler at ``address`` with at least one worker; a
    UsageError naming --scheduler when there is none within ``timeout`` seconds."""
    try:
        from distributed import Client
        from distributed.comm import connect as open_comm
    except ImportError:
        raise UsageError(f"--scheduler {address}: needs dask.distributed (the cluster extra: "
                         f"pip install -e '.[cluster]')") from None

    async def probe():      # a Client that fails to start hangs on its way out: try first
        comm = await open_comm(address, timeout=timeout)
        await comm.close()
    try:
        asyncio.run(probe())
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:        # refused, timed out, malformed address, not a scheduler
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(f"--scheduler {address}: cannot connect ({reason})") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except Exception:
        client.close()
        raise UsageError(f"--scheduler {address}: no worker joined within {timeout:g} s") from None
    return DaskShards(client, address)


_benches: dict = {}
_benches_lock = threading.Lock()


def run_on_worker(recipe: dict, key: str, job: dict, log_file, test_module: str) -> dict:
    """The task a Dask worker runs: one shard on its own ``Bench(**recipe)`` (made once per
    worker process and client build key), which must be the client's core (build ``key``)."""
    from sim.build import Bench
    ident = repr((sorted(recipe.items()), key))
    where = f"--scheduler: worker {socket.gethostname()}"
    with _benches_lock:
        if ident not in _benches:
            try:
                _benches[ident] = Bench(**recipe)
            except (InputError, OSError) as exc:    # the shared paths are not there
                raise UsageError(f"{where} cannot make the bench: {describe(exc)}") from None
        bench = _benches[ident]
    if bench.key != key:
        raise UsageError(f"{where} built another core (key {bench.key}, the client's {key}): "
                         f"its hdl/ or sim/wrapper.py differ")
    return bench.run_job(job, log_file, test_module)
