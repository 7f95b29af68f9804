"""Failover on async connections, on the local servers (two names for one server).

The same failover routine as sync, run off the event loop: a broken connection is replaced
(the session state carried over), the application gets the sync errors by the same
at-most-once rule, and a cancelled call never fails over.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import mysql.connector.aio
import psycopg
import pytest
from local_servers import ENGINES

import sturdydb

ASYNC_TARGETS: dict[str, Callable[..., Any]] = {
    "pg": psycopg.AsyncConnection.connect,
    "mysql": mysql.connector.aio.connect,
}


async def _open(engine: str, names: tuple[str, str], **kwargs: Any) -> sturdydb.AsyncConnection:
    _, port, base = ENGINES[engine]
    props: dict[str, Any] = {"host": ",".join(names), "port": port, "plugins": "failover",
                             "failover_timeout_sec": 10, **base, **kwargs}
    if engine == "mysql":
        props.pop("use_pure")
        props["ssl_disabled"] = True
    return await sturdydb.connect_async(ASYNC_TARGETS[engine], **props)


def _break(conn: sturdydb.AsyncConnection) -> None:
    ctx = conn.context
    ctx.driver.abort_connection(ctx.connection)


def test_a_read_on_a_broken_connection_fails_over_and_is_safe_to_rerun(engine: str, names: tuple[str, str]) -> None:
    async def scenario() -> None:
        conn = await _open(engine, names, autocommit=True)
        old = conn.target_connection
        cur = conn.cursor()
        await cur.execute("SELECT 1")
        await cur.fetchall()
        _break(conn)
        with pytest.raises(sturdydb.FailoverSuccessError) as caught:
            await cur.execute("SELECT 2")
        assert isinstance(caught.value, conn.context.driver.operational_error)
        assert conn.target_connection is not old
        assert conn.context.plugin_state["failover"].failovers == 1
        assert conn.autocommit is True  # carried over to the new async connection
        await cur.execute("SELECT 3")
        assert await cur.fetchall() == [(3,)]
        await conn.close()

    asyncio.run(scenario())


def test_a_write_in_a_transaction_reports_an_unknown_outcome(engine: str, names: tuple[str, str]) -> None:
    async def scenario() -> None:
        conn = await _open(engine, names, autocommit=False)
        name = f"afo_{uuid.uuid4().hex[:10]}"
        cur = conn.cursor()
        await cur.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY)")
        await conn.commit()
        await cur.execute(f"INSERT INTO {name} VALUES (1)")  # opens the transaction
        _break(conn)
        with pytest.raises(sturdydb.TransactionResolutionUnknownError) as caught:
            await cur.execute(f"INSERT INTO {name} VALUES (2)")
        assert caught.value.sqlstate == "08007"
        assert conn.autocommit is False  # carried over
        await cur.execute(f"SELECT count(*) FROM {name}")
        assert await cur.fetchall() == [(0,)]  # the transaction died with the old connection
        await conn.rollback()
        await cur.execute(f"DROP TABLE {name}")
        await conn.commit()
        await conn.close()

    asyncio.run(scenario())


def test_failover_retry_reads_reruns_the_read_on_the_new_connection(engine: str, names: tuple[str, str]) -> None:
    async def scenario() -> None:
        conn = await _open(engine, names, autocommit=True, failover_retry_reads=True)
        cur = conn.cursor()
        _break(conn)
        await cur.execute("SELECT 5")  # no error: the read ran again after the failover
        assert await cur.fetchall() == [(5,)]
        assert conn.context.plugin_state["failover"].failovers == 1
        await conn.close()

    asyncio.run(scenario())


def test_a_cancelled_call_does_not_fail_over(engine: str, names: tuple[str, str]) -> None:
    sleep = "SELECT pg_sleep(5)" if engine == "pg" else "SELECT SLEEP(5)"

    async def scenario() -> None:
        conn = await _open(engine, names, autocommit=True)
        cur = conn.cursor()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(cur.execute(sleep), 0.2)
        assert conn.context.plugin_state["failover"].failovers == 0
        assert conn.closed
        with pytest.raises(sturdydb.InterfaceError, match="cancelled"):
            await cur.execute("SELECT 1")

    asyncio.run(scenario())
