"""psycopg_pool's AsyncConnectionPool with sturdydb async connections (the recipe of
docs/frameworks-pools.md): after a writer failover, the pool hands out only connections to
the new writer."""

from __future__ import annotations

import asyncio
import time

import pytest
from orm_workload import start_failover
from orm_workload_async import FAST_EFM
from pool_recipe import SturdyAsyncPoolConnection
from psycopg_pool import AsyncConnectionPool

import sturdydb
from sturdydb_testing import Cluster

# No socket_timeout on async connections: host_monitoring detects a frozen writer.
PROPS = {"plugins": "aurora_connection_tracker,failover,host_monitoring", "failover_timeout_sec": 60,
         "connect_timeout": 3, "autocommit": True, **FAST_EFM}


async def _node(conn: sturdydb.AsyncConnection) -> str:
    cur = await conn.execute("SELECT pg_catalog.aurora_db_instance_identifier()")
    row = await cur.fetchone()
    await cur.close()
    return str(row[0])


def test_the_pool_reuses_its_connections(pg_cluster: Cluster) -> None:
    # pool.connection() runs "async with conn": the recipe's connection must not close there.
    async def scenario() -> None:
        async with AsyncConnectionPool(pg_cluster.conninfo(), connection_class=SturdyAsyncPoolConnection,
                                       kwargs={**PROPS, "autocommit": False}, min_size=1, max_size=1,
                                       open=False, timeout=30) as pool:
            await pool.wait(30)
            seen = []
            for _ in range(3):
                async with pool.connection() as conn:
                    await conn.execute("SELECT 1")  # leaves a transaction open: the exit commits it
                    seen.append((id(conn), conn.info.backend_pid))
                assert not conn.closed
            assert len(set(seen)) == 1, seen
            assert pool.get_stats().get("connections_num") == 1
            with pytest.raises(ZeroDivisionError):
                async with pool.connection() as conn:
                    await conn.execute("SELECT 1")
                    raise ZeroDivisionError  # the exit rolls back, the connection stays pooled
            async with pool.connection() as conn:
                assert (id(conn), conn.info.backend_pid) == seen[0]
        assert conn.closed  # closing the pool closes it

    asyncio.run(scenario())


@pytest.mark.parametrize("old_writer", ["kill", "freeze"])
def test_async_pool_hands_out_only_new_writer_connections_after_failover(pg_cluster: Cluster, old_writer: str) -> None:
    old = pg_cluster.writer
    assert old is not None

    async def scenario() -> None:
        async with AsyncConnectionPool(pg_cluster.conninfo(), connection_class=SturdyAsyncPoolConnection,
                                       kwargs=PROPS, min_size=4, max_size=4,
                                       check=AsyncConnectionPool.check_connection, open=False,
                                       timeout=30) as pool:
            await pool.wait(30)
            held = [await pool.getconn() for _ in range(4)]  # every pooled connection is on the old writer
            assert all(isinstance(c, sturdydb.AsyncConnection) for c in held)
            assert {await _node(c) for c in held} == {old.name}
            for c in held:
                await pool.putconn(c)
            new = (await asyncio.to_thread(start_failover, pg_cluster, old_writer)).result(60)
            # Once the promoted replica is the writer, every connection handed out goes to it:
            # check_connection runs "" on each idle connection at checkout, which fails over
            # (or fails, and the pool replaces the connection) before the application sees it.
            seen: list[str] = []
            deadline = time.monotonic() + 60
            while len(seen) < 12:
                assert time.monotonic() < deadline, f"the pool did not recover: {seen}"
                async with pool.connection() as conn:
                    seen.append(await _node(conn))
            assert set(seen) == {new.name}, seen

    asyncio.run(scenario())


def test_without_check_the_first_statement_gets_the_failover_error(pg_cluster: Cluster) -> None:
    # Why the recipe insists on check=: without it, an idle pooled connection to the old
    # writer is handed out as is, and the application's first statement on it fails over.
    async def scenario() -> None:
        async with AsyncConnectionPool(pg_cluster.conninfo(), connection_class=SturdyAsyncPoolConnection,
                                       kwargs=PROPS, min_size=1, max_size=1, open=False, timeout=30) as pool:
            await pool.wait(30)
            new = (await asyncio.to_thread(start_failover, pg_cluster, "kill")).result(60)
            async with pool.connection() as conn:
                with pytest.raises(sturdydb.FailoverError):
                    await _node(conn)
                assert await _node(conn) == new.name  # the same connection, now on the new writer

    asyncio.run(scenario())
