"""``sturdydb.connect_async`` on the local PostgreSQL and MariaDB servers, and the async chain.

The async wrapper behaves like the driver's own async API (results, exceptions, context
managers); wrapped calls go through the compiled async chain (a plugin's
``sturdydb_execute_async``, or its sync bookkeeping wrapper when it declares
``async_safe_execute``); a plugin that offers neither is refused at connect, by name; a
cancelled call closes the connection and no plugin sees it as an error.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any, ClassVar

import mysql.connector
import mysql.connector.aio
import psycopg
import pytest
from conftest import MYSQL_KWARGS, PG_CONNINFO

import sturdydb
from sturdydb import Call, ConnectRequest, Plugin, hookimpl
from sturdydb._discovery import register_plugin, unregister_plugin

seen: list[tuple[str, ...]] = []


class AsyncRecorder(Plugin):
    """Implements the async hook: records calls, can replace a result."""

    code: ClassVar[str] = "t_async_recorder"
    weight: ClassVar[int] = 100

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method in ("Cursor.execute", "Cursor.fetchone", "Connection.commit")

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        seen.append(("sync", call.method))  # must never run for an async connection
        return (yield)

    @hookimpl
    async def sturdydb_execute_async(self, call: Call, proceed: Callable[[Call], Awaitable[Any]]) -> Any:
        seen.append(("async:before", call.method, threading.current_thread().name))
        try:
            result = await proceed(call)
        except BaseException as exc:
            seen.append(("async:error", call.method, type(exc).__name__))
            raise
        seen.append(("async:after", call.method))
        if call.method == "Cursor.fetchone" and result == (7,):
            return (8,)  # a wrapper may replace the result
        return result


class Bookkeeper(Plugin):
    """A sync wrapper that declares itself safe to drive around an awaited call."""

    code: ClassVar[str] = "t_bookkeeper"
    weight: ClassVar[int] = 50  # outside the recorder
    async_safe_execute: ClassVar[bool] = True

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method == "Cursor.execute"

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        seen.append(("book:before", call.method))
        try:
            return (yield)
        finally:
            seen.append(("book:after", call.method))


class Blocker(Plugin):
    """A sync execute wrapper that is not declared async-safe: refused for async connections."""

    code: ClassVar[str] = "t_blocker"
    weight: ClassVar[int] = 60

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return True

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        return (yield)


class ConnectWatcher(Plugin):
    """A connect wrapper: for async connections it runs off the event loop."""

    code: ClassVar[str] = "t_connect_watcher"
    weight: ClassVar[int] = 70

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        seen.append(("connect", request.purpose, threading.current_thread().name))
        return (yield)


@pytest.fixture(autouse=True)
def _plugins() -> Iterator[None]:
    for cls in (AsyncRecorder, Bookkeeper, Blocker, ConnectWatcher):
        register_plugin(cls)
    seen.clear()
    yield
    for cls in (AsyncRecorder, Bookkeeper, Blocker, ConnectWatcher):
        unregister_plugin(cls.code)


ENGINES = ["pg", "mysql"]


async def _connect(engine: str, **props: Any) -> sturdydb.AsyncConnection:
    props.setdefault("plugins", "")
    if engine == "pg":
        return await sturdydb.connect_async(psycopg.AsyncConnection.connect, PG_CONNINFO, **props)
    return await sturdydb.connect_async(mysql.connector.aio.connect, **MYSQL_KWARGS, ssl_disabled=True, **props)


@pytest.mark.parametrize("engine", ENGINES)
def test_async_connection_runs_queries_like_the_driver(engine: str) -> None:
    table = f"sturdy_{uuid.uuid4().hex[:12]}"

    async def scenario() -> None:
        conn = await _connect(engine)
        assert isinstance(conn, sturdydb.AsyncConnection)
        async with conn.cursor() as cur:
            await cur.execute(f"CREATE TABLE {table} (id INT, name VARCHAR(20))")
            await cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", [(1, "a"), (2, "b"), (3, "c")])
            await conn.commit()
            await cur.execute(f"SELECT id, name FROM {table} ORDER BY id")
            assert await cur.fetchone() == (1, "a")
            assert await cur.fetchmany(1) == [(2, "b")]
            assert await cur.fetchall() == [(3, "c")]
            await cur.execute(f"SELECT id FROM {table} ORDER BY id")
            assert [row async for row in cur] == [(1,), (2,), (3,)]
            await cur.execute(f"INSERT INTO {table} VALUES (4, 'd')")
            await conn.rollback()
            await cur.execute(f"SELECT count(*) FROM {table}")
            assert (await cur.fetchone())[0] == 3
            await conn.rollback()
            await conn.set_autocommit(True)
            assert conn.autocommit is True
            await cur.execute(f"DROP TABLE {table}")
        cur2 = await conn.cursor()  # the driver's spelling for mysql.connector.aio
        await cur2.execute("SELECT 5")
        assert await cur2.fetchone() == (5,)
        await cur2.close()
        await conn.close()
        assert conn.closed

    asyncio.run(scenario())


@pytest.mark.parametrize("engine", ENGINES)
def test_the_drivers_own_exceptions_pass_through(engine: str) -> None:
    async def scenario() -> None:
        conn = await _connect(engine, plugins="t_async_recorder")
        cur = conn.cursor()
        module: Any = psycopg if engine == "pg" else mysql.connector
        with pytest.raises(module.ProgrammingError) as caught:
            await cur.execute("SELECT * FROM no_such_table_here")
        assert not isinstance(caught.value, sturdydb.Error)
        assert ("async:error", "Cursor.execute", type(caught.value).__name__) in seen
        await conn.close()

    asyncio.run(scenario())


def test_psycopg_async_context_manager_commits_then_closes() -> None:
    table = f"sturdy_{uuid.uuid4().hex[:12]}"

    async def scenario() -> None:
        async with await _connect("pg") as conn:
            await conn.execute(f"CREATE TABLE {table} (id INT)")
            await conn.execute(f"INSERT INTO {table} VALUES (1)")
        assert conn.closed
        async with await _connect("pg") as check:
            cur = await check.execute(f"SELECT count(*) FROM {table}")
            assert await cur.fetchone() == (1,)
            await check.execute(f"DROP TABLE {table}")

    asyncio.run(scenario())


@pytest.mark.hookspec("sturdydb_execute_async")
@pytest.mark.parametrize("engine", ENGINES)
def test_execute_async_wraps_calls_in_weight_order_on_the_loop(engine: str) -> None:
    async def scenario() -> None:
        conn = await _connect(engine, plugins="t_async_recorder,t_bookkeeper")
        loop_thread = threading.current_thread().name
        cur = conn.cursor()
        await cur.execute("SELECT 7")
        assert await cur.fetchone() == (8,)  # replaced by the async wrapper
        await conn.close()
        calls = [e for e in seen if e[0] != "connect"]
        assert calls[:4] == [
            ("book:before", "Cursor.execute"),  # weight 50: outermost
            ("async:before", "Cursor.execute", loop_thread),
            ("async:after", "Cursor.execute"),
            ("book:after", "Cursor.execute"),
        ]
        assert ("async:after", "Cursor.fetchone") in calls
        assert not any(e[0] == "sync" for e in seen)  # the sync form is never used here

    asyncio.run(scenario())


def test_a_plugin_without_an_async_form_is_refused_by_name() -> None:
    async def scenario() -> None:
        with pytest.raises(sturdydb.ConfigurationError, match=r"'t_blocker'.*sturdydb_execute_async"):
            await _connect("pg", plugins="t_blocker,t_async_recorder")

    asyncio.run(scenario())
    # The same chain is fine for sync connections.
    with sturdydb.connect(psycopg.Connection.connect, PG_CONNINFO, plugins="t_blocker") as conn:
        assert conn.cursor().execute("SELECT 1").fetchone() == (1,)


def test_sync_and_async_connect_functions_are_not_mixed_up() -> None:
    with pytest.raises(sturdydb.InterfaceError, match="connect_async"):
        sturdydb.connect(psycopg.AsyncConnection.connect, PG_CONNINFO, plugins="")

    async def scenario() -> None:
        with pytest.raises(sturdydb.InterfaceError, match="not an async connect function"):
            await sturdydb.connect_async(psycopg.Connection.connect, PG_CONNINFO, plugins="")

    asyncio.run(scenario())


def test_connect_wrappers_run_off_the_event_loop() -> None:
    async def scenario() -> None:
        conn = await _connect("pg", plugins="t_connect_watcher")
        assert seen and seen[0][:2] == ("connect", "connect")
        assert seen[0][2] != threading.current_thread().name
        assert seen[0][2].startswith("sturdydb-offloop")
        await conn.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("engine", ENGINES)
def test_a_cancelled_call_closes_the_connection_and_no_plugin_sees_an_error(engine: str) -> None:
    sleep = "SELECT pg_sleep(5)" if engine == "pg" else "SELECT SLEEP(5)"

    async def scenario() -> None:
        conn = await _connect(engine, plugins="t_async_recorder")
        cur = conn.cursor()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(cur.execute(sleep), 0.2)
        # The plugin saw the cancellation pass through, not a driver error.
        assert ("async:error", "Cursor.execute", "CancelledError") in seen
        assert conn.closed
        with pytest.raises(sturdydb.InterfaceError, match="cancelled"):
            await cur.execute("SELECT 1")
        with pytest.raises(sturdydb.InterfaceError, match="cancelled"):
            conn.cursor()
        await conn.close()  # closing again is harmless

    asyncio.run(scenario())


def test_blocking_dialect_calls_are_refused_on_the_loop_thread() -> None:
    async def scenario() -> None:
        conn = await _connect("pg")
        driver = conn.context.driver
        with pytest.raises(sturdydb.InterfaceError, match="event loop"):
            driver.query(conn.target_connection, "SELECT 1")
        # Off the loop the same call runs on the loop and returns the rows.
        rows = await asyncio.get_running_loop().run_in_executor(
            None, driver.query, conn.target_connection, "SELECT 41 + 1")
        assert rows == [(42,)]
        await conn.close()

    asyncio.run(scenario())


def test_a_replacement_arriving_after_the_connection_was_closed_is_closed_not_installed() -> None:
    # A failover that ran off-loop while its task was cancelled finishes after the core
    # closed the connection: its new connection must not bring the wrapper back to life.
    conn = sturdydb.connect(psycopg.Connection.connect, PG_CONNINFO, plugins="")
    ctx = conn.context
    old = ctx.connection
    conn.close()
    new = psycopg.connect(PG_CONNINFO)
    ctx.set_connection(new, ctx.host)
    assert new.closed
    assert ctx.connection is old
    assert ctx.generation == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_socket_timeout_cancels_a_slow_awaited_statement_and_keeps_the_connection(engine: str) -> None:
    table = f"sturdy_{uuid.uuid4().hex[:12]}"
    sleep = "pg_sleep(2)" if engine == "pg" else "(SELECT SLEEP(2)) AS s"

    async def scenario() -> None:
        conn = await _connect(engine, socket_timeout=0.5, autocommit=True)
        raw = conn.target_connection
        cur = conn.cursor()
        await cur.execute(f"CREATE TABLE {table} (id INT)")
        try:
            with pytest.raises(sturdydb.QueryTimeoutError) as caught:
                await cur.execute(f"INSERT INTO {table} (id) SELECT 1 FROM {sleep}")
            err = caught.value
            assert err.cancelled
            assert isinstance(err, conn.context.driver.operational_error)
            assert conn.context.driver.is_cancel_error(err.__cause__)  # type: ignore[arg-type]
            assert conn.target_connection is raw  # not aborted: the same connection goes on
            await cur.execute("SELECT 8")
            assert await cur.fetchall() == [(8,)]
            await asyncio.sleep(2.0)  # past the statement's own end
            await cur.execute(f"SELECT count(*) FROM {table}")
            assert await cur.fetchall() == [(0,)]  # cancelled: not applied
        finally:
            await cur.execute(f"DROP TABLE {table}")
            await conn.close()

    asyncio.run(scenario())
