"""read_only switching on async connections (``await conn.set_read_only(...)``), both engines.

Reads run on a reader and writes on the writer (by the instance id each statement reports),
the switch is refused inside a transaction, the loop keeps running while a switch connects,
and with ``read_write_pools`` a second async connection reuses the pooled connections.

Not run per driver (``every_driver``): psycopg2 and PyMySQL have no asyncio API, so the async
path has one driver per engine (psycopg's ``AsyncConnection``, ``mysql.connector.aio``); asyncpg
and aiomysql come with their own issue.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import mysql.connector.aio
import psycopg
import pytest
from rw_helpers import verify_writes

import sturdydb
from sturdydb_read_write import ReadWriteSplittingError, connection_pools
from sturdydb_testing import Cluster


async def _connect(cluster: Cluster, **props: Any) -> sturdydb.AsyncConnection:
    options: dict[str, Any] = {"plugins": "read_write_splitting,failover", "failover_timeout_sec": 60,
                               "connect_timeout": 3, "autocommit": True}
    if cluster.engine == "mysql":
        options["ssl_disabled"] = True  # the aio driver's TLS probe fails on the emulated servers
    options.update(props)
    return await sturdydb.connect_async(_target(cluster), cluster.conninfo(), **options)


def _target(cluster: Cluster) -> Callable[..., Any]:
    return psycopg.AsyncConnection.connect if cluster.engine == "pg" else mysql.connector.aio.connect


def _id_sql(cluster: Cluster) -> str:
    return "pg_catalog.aurora_db_instance_identifier()" if cluster.engine == "pg" else "@@aurora_server_id"


async def _where(conn: sturdydb.AsyncConnection, cluster: Cluster) -> str:
    cur = conn.cursor()
    await cur.execute(f"SELECT {_id_sql(cluster)}")
    row = await cur.fetchone()
    await cur.fetchall()
    return str(row[0])


def test_async_reads_on_a_reader_writes_on_the_writer(aurora_cluster: Cluster) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    readers = {r.name for r in aurora_cluster.readers}
    table = f"rw_{uuid.uuid4().hex[:10]}"
    acknowledged: list[int] = []
    ticks = 0

    async def heartbeat(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    async def scenario() -> None:
        stop = asyncio.Event()
        beat = asyncio.create_task(heartbeat(stop))
        conn = await _connect(aurora_cluster)
        try:
            assert await _where(conn, aurora_cluster) == writer.name
            await conn.cursor().execute(f"CREATE TABLE {table} (id INT NOT NULL, written_on VARCHAR(80))")
            cur = conn.cursor()  # made on the writer, follows the connection to the reader and back
            for i in range(1, 4):
                before = ticks
                await conn.set_read_only(True)  # the first one connects to a reader off-loop
                assert ticks > before or i > 1  # the heartbeat ran while the reader connect was awaited
                assert await _where(conn, aurora_cluster) in readers
                await cur.execute(f"SELECT count(*) FROM {table}")
                assert (await cur.fetchone())[0] == i - 1  # the reader sees the replicated rows
                await conn.set_read_only(False)
                await cur.execute(f"INSERT INTO {table} (id, written_on) VALUES (%s, {_id_sql(aurora_cluster)})", (i,))
                acknowledged.append(i)
                assert await _where(conn, aurora_cluster) == writer.name
                await _replicated(conn, aurora_cluster, table, i)
        finally:
            await conn.close()
            stop.set()
            await beat

    asyncio.run(scenario())
    verify_writes(aurora_cluster, table, acknowledged, {writer.name})


async def _replicated(conn: sturdydb.AsyncConnection, cluster: Cluster, table: str, n: int) -> None:
    """Wait until the readers have the ``n`` rows (replication is asynchronous)."""
    for reader in cluster.readers:
        extra = {"ssl_disabled": True} if cluster.engine == "mysql" else {}
        probe = await sturdydb.connect_async(_target(cluster), cluster.conninfo(reader), plugins="",
                                             autocommit=True, **extra)
        try:
            for _ in range(600):
                cur = probe.cursor()
                await cur.execute(f"SELECT count(*) FROM {table}")
                if (await cur.fetchone())[0] >= n:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"{reader.name} did not replicate {n} rows of {table}")
        finally:
            await probe.close()


def test_async_switch_is_refused_in_a_transaction(aurora_cluster: Cluster) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    table = f"rw_{uuid.uuid4().hex[:10]}"

    async def scenario() -> None:
        conn = await _connect(aurora_cluster, autocommit=False)
        try:
            cur = conn.cursor()
            await cur.execute(f"CREATE TABLE {table} (id INT NOT NULL, written_on VARCHAR(80))")
            await conn.commit()
            # The transaction is open:
            await cur.execute(f"INSERT INTO {table} (id, written_on) VALUES (1, {_id_sql(aurora_cluster)})")
            with pytest.raises(ReadWriteSplittingError, match="inside a transaction"):
                await conn.set_read_only(True)
            assert await _where(conn, aurora_cluster) == writer.name  # stayed where it was
            await conn.commit()  # the transaction is intact: its write is committed
            await conn.set_read_only(True)
            assert await _where(conn, aurora_cluster) != writer.name
            await conn.rollback()
        finally:
            await conn.close()

    asyncio.run(scenario())
    verify_writes(aurora_cluster, table, [1], {writer.name})


def test_async_connections_share_pools_on_their_loop(aurora_cluster: Cluster) -> None:
    readers = {r.name for r in aurora_cluster.readers}

    async def backend(conn: sturdydb.AsyncConnection) -> tuple[str, int]:
        cur = conn.cursor()
        if aurora_cluster.engine == "pg":
            await cur.execute(f"SELECT {_id_sql(aurora_cluster)}, pg_backend_pid()")
        else:
            await cur.execute(f"SELECT {_id_sql(aurora_cluster)}, CONNECTION_ID()")
        row = await cur.fetchone()
        return str(row[0]), int(row[1])

    async def scenario() -> None:
        props = {"read_write_pools": True, "reader_host_selector_strategy": "round_robin"}
        first = await _connect(aurora_cluster, **props)
        sessions: set[tuple[str, int]] = set()
        for _ in range(2 * len(readers)):  # each reader in turn; each switch back pools the reader's
            await first.set_read_only(True)
            sessions.add(await backend(first))
            await first.set_read_only(False)
        assert {name for name, _ in sessions} == readers
        assert len(sessions) == len(readers)  # one physical connection per reader, reused
        await first.close()  # its writer connection goes to the writer's pool too
        assert sum(connection_pools.stats().values()) == len(readers) + 1
        second = await _connect(aurora_cluster, **props)
        try:
            await second.set_read_only(True)
            assert await backend(second) in sessions  # a pooled reader session, no new connect
        finally:
            await second.close()

    asyncio.run(scenario())
