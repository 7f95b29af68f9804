"""``connect_async`` and the async PEP 249-style wrapper classes.

The async twin of :mod:`sturdydb._connection`, for ``psycopg.AsyncConnection.connect`` and
``mysql.connector.aio.connect``. The plan (properties, profile, plugin chain) is the sync
one; the connect chain runs off-loop (:func:`~sturdydb._offloop.run_off_loop`) and its
terminal awaits the driver's connect on this loop (:mod:`sturdydb._drivers.aio`). Awaited
calls that a plugin wraps go down the compiled async chain
(:meth:`~sturdydb._pipeline.Pipeline.async_chain`); the others await the driver directly.

A call cancelled half-way (``task.cancel()``, ``asyncio.wait_for``) may leave the driver
connection in the middle of a protocol exchange: the connection is then aborted and closed,
never handed back half-used, and the next use says why. A cancellation never starts a
failover (``CancelledError`` is not an ``Exception``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sturdydb import _selectors as selectors
from sturdydb._connection import _closed_error, _plan, open_initial
from sturdydb._conninfo import check_conninfo
from sturdydb._context import Call, ConnectionContext
from sturdydb._discovery import catalog_for
from sturdydb._drivers.aio import AsyncDialectMixin
from sturdydb._drivers.base import DriverDialect
from sturdydb._errors import FailoverSuccessError, InterfaceError, NotSupportedError, make_error
from sturdydb._hosts import HostInfo
from sturdydb._offloop import run_off_loop

__all__ = ["AsyncConnection", "AsyncCursor", "connect_async"]

log = logging.getLogger("sturdydb.connection")

#: ``plugin_state`` key set when a cancellation closed the connection (for the error message).
_CANCELLED = "_cancelled"


async def connect_async(target_connect: Callable[..., Any], conninfo: str = "", **kwargs: Any) -> AsyncConnection:
    """Open an async connection through sturdydb's plugin pipeline.

    ``target_connect`` is ``psycopg.AsyncConnection.connect`` or ``mysql.connector.aio.connect``;
    ``conninfo`` and ``kwargs`` are as for :func:`sturdydb.connect`. The plugins' connect
    wrappers (routing, credentials, monitoring setup) run off the event loop.
    """
    check_conninfo(conninfo)
    cat = catalog_for(target_connect, conninfo, kwargs)
    driver, props, pipeline, hosts = _plan(cat, target_connect, conninfo, kwargs)
    if not isinstance(driver, AsyncDialectMixin) or not isinstance(driver, DriverDialect):
        raise InterfaceError(
            f"{target_connect!r} is not an async connect function: connect_async takes "
            "psycopg.AsyncConnection.connect or mysql.connector.aio.connect (use "
            "sturdydb.connect for sync drivers)"
        )
    pipeline.check_async()
    loop = asyncio.get_running_loop()
    aio = driver

    def connect_on_loop(**kw: Any) -> Any:  # runs in the off-loop thread, as the terminal
        return aio.connect_from_thread(loop, lambda: target_connect(**kw))

    ctx = ConnectionContext(
        pipeline=pipeline, driver=driver, props=props, target_connect=connect_on_loop,
        hosts=hosts, catalog=cat,
    )
    ctx.loop = loop
    ctx.auxiliary_connect = aio.sync_connect
    opening = run_off_loop(open_initial, ctx)
    try:
        await asyncio.shield(opening)
    except asyncio.CancelledError:
        # The connect goes on in its thread; whatever it opens is closed, never leaked.
        ctx.closed = True

        def dispose(done: asyncio.Future[None]) -> None:
            if not done.cancelled() and done.exception() is None and ctx.connection is not None:
                driver.close_quietly(ctx.connection)
                selectors.untrack(ctx)

        opening.add_done_callback(dispose)
        raise
    return AsyncConnection(ctx)


def _cancelled(ctx: ConnectionContext) -> None:
    """A call on ``ctx`` was cancelled half-way: abort and close, so nobody reuses it."""
    if ctx.closed:
        return
    ctx.closed = True
    ctx.plugin_state[_CANCELLED] = True
    conn = ctx.connection
    driver = ctx.driver
    driver.abort_connection(conn)
    driver.close_quietly(conn)  # on the loop's thread: without I/O
    selectors.untrack(ctx)
    log.info("a call on %s was cancelled half-way; the connection was closed", ctx.host.url)


def _closed(ctx: ConnectionContext) -> BaseException:
    if ctx.plugin_state.get(_CANCELLED):
        base = getattr(ctx.driver.module, "InterfaceError", None) or ctx.driver.operational_error
        return make_error(
            InterfaceError,
            "the connection was closed because a call on it was cancelled half-way (task "
            "cancelled or timed out), which leaves the driver connection in an unknown state; "
            "open a new connection", base,
        )
    return _closed_error(ctx)


async def _run(ctx: ConnectionContext, method: str, target: Any, func: Callable[..., Any],
               args: tuple[Any, ...], kwargs: dict[str, Any], server_side: bool = False) -> Any:
    if ctx.closed:
        raise _closed(ctx)
    chain = ctx.async_chain(method, server_side)
    try:
        if chain is None:
            return await func(*args, **kwargs)
        return await chain(Call(ctx, method, target, func, args, kwargs))
    except asyncio.CancelledError:
        _cancelled(ctx)
        raise


class AsyncConnection:
    """An async PEP 249-style connection over the driver's, through the plugins."""

    __slots__ = ("__weakref__", "_ctx")

    def __init__(self, context: ConnectionContext) -> None:
        self._ctx = context

    @property
    def context(self) -> ConnectionContext:
        """sturdydb's state for this connection (plugins, host, session state)."""
        return self._ctx

    @property
    def target_connection(self) -> Any:
        """The driver's current connection object (it changes after a failover)."""
        return self._ctx.connection

    @property
    def host(self) -> HostInfo:
        """The host this connection is currently connected to."""
        return self._ctx.host

    def cursor(self, *args: Any, **kwargs: Any) -> AsyncCursor:
        """A cursor; the driver's cursor is opened on first use (``await conn.cursor()`` also works)."""
        if self._ctx.closed:
            raise _closed(self._ctx)
        return AsyncCursor(self, args, kwargs)

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> AsyncCursor:
        """psycopg's ``AsyncConnection.execute`` shortcut: a new cursor, executed."""
        return await self.cursor().execute(query, params, **kwargs)

    async def commit(self) -> None:
        ctx = self._ctx
        await _run(ctx, "Connection.commit", ctx.connection, ctx.connection.commit, (), {})

    async def rollback(self) -> None:
        ctx = self._ctx
        await _run(ctx, "Connection.rollback", ctx.connection, ctx.connection.rollback, (), {})

    async def close(self) -> None:
        ctx = self._ctx
        if ctx.closed:
            return
        try:
            await _run(ctx, "Connection.close", ctx.connection, ctx.connection.close, (), {})
        finally:
            ctx.closed = True
            selectors.untrack(ctx)

    @property
    def closed(self) -> bool:
        ctx = self._ctx
        return ctx.closed or ctx.driver.is_closed(ctx.connection)

    @property
    def autocommit(self) -> bool:
        ctx = self._ctx
        return ctx.driver.known_autocommit(ctx.connection)  # type: ignore[attr-defined, no-any-return]

    async def set_autocommit(self, value: bool) -> None:
        ctx = self._ctx
        driver: Any = ctx.driver
        await _run(ctx, "Connection.autocommit_setter", ctx.connection, driver.set_autocommit_async,
                   (ctx.connection, value), {})
        ctx.session.autocommit = bool(value)

    async def set_read_only(self, value: bool | None) -> None:
        ctx = self._ctx
        driver: Any = ctx.driver
        await _run(ctx, "Connection.read_only_setter", ctx.connection, driver.set_read_only_async,
                   (ctx.connection, value), {})
        ctx.session.read_only = None if value is None else bool(value)

    async def set_isolation_level(self, value: Any) -> None:
        ctx = self._ctx
        driver: Any = ctx.driver
        await _run(ctx, "Connection.isolation_level_setter", ctx.connection, driver.set_isolation_level_async,
                   (ctx.connection, value), {})
        ctx.session.isolation_level = value

    def transaction(self, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported(self._ctx, "transaction() blocks", "await conn.commit() / conn.rollback()")

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported(self._ctx, "pipeline() blocks", "separate execute() calls")

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        ctx = self._ctx
        if ctx.closed:
            return
        try:
            if ctx.driver.context_exit_ends_transaction and not ctx.driver.is_closed(ctx.connection):
                # The driver's own semantics (psycopg): commit on success, roll back on error.
                if exc_type is None:
                    await self.commit()
                else:
                    await self.rollback()
        finally:
            if ctx.driver.context_exit_closes:
                await self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx.connection, name)

    def __repr__(self) -> str:
        ctx = self._ctx
        state = "closed" if ctx.closed else "open"
        return f"<sturdydb.AsyncConnection {state} host={ctx.host.url} plugins={list(ctx.pipeline.codes)}>"


def _unsupported(ctx: ConnectionContext, what: str, instead: str) -> BaseException:
    return make_error(
        NotSupportedError,
        f"{what} are not supported on sturdydb's async connections yet (they would bypass the "
        f"plugins); use {instead}",
        getattr(ctx.driver.module, "NotSupportedError", None),
    )


class AsyncCursor:
    """An async cursor over the driver's, through the plugins."""

    __slots__ = ("__weakref__", "_args", "_conn", "_ctx", "_cursor", "_gen", "_kwargs", "_server_side")

    def __init__(self, connection: AsyncConnection, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._conn = connection
        self._ctx = connection._ctx
        self._args = args
        self._kwargs = kwargs
        self._cursor: Any = None
        self._gen = -1
        self._server_side = False

    async def _open(self) -> Any:
        """The driver cursor on the current connection (opened now, or again after a failover)."""
        ctx = self._ctx
        conn = ctx.connection
        driver: Any = ctx.driver
        self._cursor = await _run(ctx, "Connection.cursor", conn, driver.open_cursor, (conn, *self._args), self._kwargs)
        self._gen = ctx.generation
        self._server_side = ctx.driver.cursor_is_server_side(self._cursor)
        return self._cursor

    def __await__(self) -> Any:
        async def opened() -> AsyncCursor:
            if self._cursor is None:
                await self._open()
            return self

        return opened().__await__()

    @property
    def target_cursor(self) -> Any:
        """The driver's cursor object (``None`` before the first use)."""
        return self._cursor

    @property
    def connection(self) -> AsyncConnection:
        return self._conn

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> AsyncCursor:
        ctx = self._ctx
        cur = self._cursor
        if cur is None or self._gen != ctx.generation:
            cur = await self._open()
        try:
            await _run(ctx, "Cursor.execute", cur, cur.execute, (query, params), kwargs, self._server_side)
        except FailoverSuccessError as exc:
            if not exc.retry_read:
                raise
            # As in sync: a read interrupted by a failover, with failover_retry_reads, runs
            # once more on the new connection.
            log.info("re-running a read interrupted by a failover on %s", ctx.host.url)
            cur = await self._open()
            await _run(ctx, "Cursor.execute", cur, cur.execute, (query, params), kwargs, self._server_side)
        return self

    async def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> AsyncCursor:
        ctx = self._ctx
        cur = self._cursor
        if cur is None or self._gen != ctx.generation:
            cur = await self._open()
        await _run(ctx, "Cursor.executemany", cur, cur.executemany, (query, params_seq), kwargs, self._server_side)
        return self

    def _fetch_target(self) -> Any:
        cur = self._cursor
        ctx = self._ctx
        if cur is None:
            raise make_error(InterfaceError, "no query was executed on this cursor yet",
                             getattr(ctx.driver.module, "InterfaceError", None))
        if self._gen != ctx.generation and self._server_side:
            raise ctx.error(
                FailoverSuccessError,
                f"this cursor's result was on a connection that failed over (now on {ctx.host.url}); "
                "fetching did not change data: execute the query again",
            )
        return cur

    async def fetchone(self) -> Any:
        cur = self._fetch_target()
        return await _run(self._ctx, "Cursor.fetchone", cur, cur.fetchone, (), {}, self._server_side)

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        cur = self._fetch_target()
        args: tuple[Any, ...] = () if size is None else (size,)
        return await _run(self._ctx, "Cursor.fetchmany", cur, cur.fetchmany, args, {},  # type: ignore[no-any-return]
                          self._server_side)

    async def fetchall(self) -> list[Any]:
        cur = self._fetch_target()
        return await _run(self._ctx, "Cursor.fetchall", cur, cur.fetchall, (), {},  # type: ignore[no-any-return]
                          self._server_side)

    def __aiter__(self) -> AsyncCursor:
        return self

    async def __anext__(self) -> Any:
        cur = self._fetch_target()
        row = await _run(self._ctx, "Cursor.__next__", cur, cur.fetchone, (), {}, self._server_side)
        if row is None:
            raise StopAsyncIteration
        return row

    async def close(self) -> None:
        cur = self._cursor
        ctx = self._ctx
        if cur is None or self._gen != ctx.generation or ctx.closed:
            return  # never opened, or died with the old (or closed) connection
        await _run(ctx, "Cursor.close", cur, cur.close, (), {}, self._server_side)

    @property
    def description(self) -> Any:
        return None if self._cursor is None else self._cursor.description

    @property
    def rowcount(self) -> int:
        return -1 if self._cursor is None else int(self._cursor.rowcount)

    async def __aenter__(self) -> AsyncCursor:
        if self._cursor is None:
            await self._open()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.close()

    def __getattr__(self, name: str) -> Any:
        if self._cursor is None:
            raise AttributeError(f"{name!r}: the driver cursor is opened on first use (await the cursor first)")
        return getattr(self._cursor, name)

    def __repr__(self) -> str:
        return f"<sturdydb.AsyncCursor on {self._ctx.host.url}>"
