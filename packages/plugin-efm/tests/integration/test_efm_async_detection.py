"""host_monitoring on async connections (``sturdydb.connect_async``), both engines.

The per-host monitor threads are the sync ones: they watch async connections too (one
monitor per host for sync and async connections alike) and abort a call on a frozen or
blackholed host by shutting its socket down, while the event loop keeps running.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
from efm_scenarios import FAST, BackgroundCall, connect, efm_threads, monitor_for, sleep_sql

import sturdydb
from sturdydb_testing import Cluster, Instance

pytestmark = pytest.mark.integration


def _async_target(cluster: Cluster) -> Callable[..., Any]:
    if cluster.engine == "pg":
        import psycopg

        return psycopg.AsyncConnection.connect
    import mysql.connector.aio

    return mysql.connector.aio.connect


async def _connect(cluster: Cluster, host: Instance | str | None = "cluster", **props: Any) -> sturdydb.AsyncConnection:
    options: dict[str, Any] = {"plugins": "host_monitoring", "autocommit": True, "connect_timeout": 3, **FAST}
    if cluster.engine == "mysql":
        options["ssl_disabled"] = True
    options.update(props)
    return await sturdydb.connect_async(_async_target(cluster), **cluster.connect_kwargs(host), **options)


async def _ticking_while(call: asyncio.Task[Any]) -> list[float]:
    """Tick every 10 ms until ``call`` ends; the ticks show the loop was never blocked."""
    ticks: list[float] = []
    while not call.done():
        ticks.append(time.monotonic())
        await asyncio.sleep(0.01)
    return ticks


@pytest.mark.parametrize("fault", ["freeze", "blackhole"])
def test_a_frozen_or_blackholed_writer_aborts_an_async_query(aurora_cluster: Cluster, fault: str) -> None:
    writer = aurora_cluster.writer
    assert writer is not None

    async def scenario() -> None:
        conn = await _connect(aurora_cluster)
        cur = conn.cursor()

        async def long_query() -> Any:
            await cur.execute(sleep_sql(aurora_cluster, 120))
            return await cur.fetchall()

        call = asyncio.get_running_loop().create_task(long_query())
        await asyncio.sleep(0.3)
        (aurora_cluster.freeze if fault == "freeze" else aurora_cluster.blackhole)(writer)
        try:
            ticks = await asyncio.wait_for(_ticking_while(call), 30)
        finally:
            (aurora_cluster.thaw if fault == "freeze" else aurora_cluster.restore)(writer)
        error = call.exception()
        assert error is not None, "the call was not aborted"
        assert not isinstance(error, sturdydb.Error), f"sturdydb replaced the driver's error: {error!r}"
        assert conn.context.driver.is_network_error(error), f"not a network error: {error!r}"
        assert monitor_for(writer.host).detections == 1
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        assert len(ticks) > 10 and max(gaps) < 1.0, f"the event loop was blocked for {max(gaps):.3f} s"
        await conn.close()

    asyncio.run(scenario())


def test_sync_and_async_connections_to_a_host_share_one_monitor(aurora_cluster: Cluster) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    sync_conn = connect(aurora_cluster)
    BackgroundCall(sync_conn, sleep_sql(aurora_cluster, 0.2)).wait(20)

    async def scenario() -> None:
        conn = await _connect(aurora_cluster)
        cur = conn.cursor()
        await cur.execute(sleep_sql(aurora_cluster, 0.2))
        await cur.fetchall()
        monitor = monitor_for(writer.host)  # exactly one monitor for the host
        assert len(monitor.slots) == 2
        assert len(efm_threads()) == 1
        await conn.close()

    asyncio.run(scenario())
    sync_conn.close()
