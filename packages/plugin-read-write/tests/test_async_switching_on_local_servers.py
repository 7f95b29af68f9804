"""``srw`` on async connections against the local servers (two names of one server).

``await conn.set_read_only(...)`` moves between the endpoints and back to the kept connection,
is refused inside a transaction, and with pools an async connection never takes a pooled
sync one (nor the reverse).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import mysql.connector.aio
import psycopg
import pytest
from conftest import ENGINES

import sturdydb
from sturdydb import HostRole
from sturdydb_read_write import ReadWriteSplittingError, connection_pools

ASYNC_TARGETS = {"pg": psycopg.AsyncConnection.connect, "mysql": mysql.connector.aio.connect}


async def _open(engine: str, names: tuple[str, str], **kwargs: Any) -> sturdydb.AsyncConnection:
    _, port, base = ENGINES[engine]
    write, read = names
    base = {k: v for k, v in base.items() if k != "use_pure"}
    if engine == "mysql":
        base["ssl_disabled"] = True
    props: dict[str, Any] = {"host": write, "port": port, "plugins": "srw",
                             "srw_write_endpoint": f"{write}:{port}", "srw_read_endpoint": f"{read}:{port}",
                             "srw_verify_new_connections": False, "autocommit": True, **base, **kwargs}
    return await sturdydb.connect_async(ASYNC_TARGETS[engine], **props)


async def _session(conn: sturdydb.AsyncConnection, engine: str) -> int:
    cur = conn.cursor()
    await cur.execute("SELECT pg_backend_pid()" if engine == "pg" else "SELECT CONNECTION_ID()")
    row = await cur.fetchone()
    await cur.fetchall()
    return int(row[0])


def test_async_read_only_moves_to_the_read_endpoint_and_back(engine: str, names: tuple[str, str]) -> None:
    write, read = names

    async def scenario() -> None:
        conn = await _open(engine, names)
        try:
            writer = await _session(conn, engine)
            await conn.set_read_only(True)
            assert conn.host.host == read and conn.context.wanted_role is HostRole.READER
            reader = await _session(conn, engine)
            assert reader != writer
            await conn.set_read_only(False)
            assert conn.host.host == write
            assert await _session(conn, engine) == writer  # the kept connection, no new connect
            await conn.set_read_only(True)
            assert await _session(conn, engine) == reader
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_async_switch_inside_a_transaction_is_refused(engine: str, names: tuple[str, str]) -> None:
    async def scenario() -> None:
        conn = await _open(engine, names, autocommit=False)
        try:
            cur = conn.cursor()
            await cur.execute("CREATE TEMPORARY TABLE rw_t (id INT)")
            await cur.execute("INSERT INTO rw_t VALUES (1)")
            with pytest.raises(ReadWriteSplittingError, match="inside a transaction"):
                await conn.set_read_only(True)
            assert conn.host.host == names[0]
            await conn.commit()
            await conn.set_read_only(True)
            assert conn.host.host == names[1]
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_async_and_sync_connections_never_share_pooled_connections(engine: str, names: tuple[str, str]) -> None:
    target, port, base = ENGINES[engine]
    write, read = names

    async def use_async() -> None:
        conn = await _open(engine, names, read_write_pools=True)
        await conn.set_read_only(True)
        await conn.set_read_only(False)  # the read endpoint's connection is pooled
        await conn.close()

    asyncio.run(use_async())
    assert sum(connection_pools.stats().values()) >= 1
    sync = sturdydb.connect(target, host=write, port=port, plugins="srw", srw_write_endpoint=f"{write}:{port}",
                            srw_read_endpoint=f"{read}:{port}", srw_verify_new_connections=False,
                            autocommit=True, read_write_pools=True, **base)
    try:
        sync.read_only = True  # must open its own connection: the pooled one is an async one
        assert sync.host.host == read
        assert not inspect.iscoroutinefunction(sync.target_connection.commit)
        cur = sync.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
    finally:
        sync.close()
