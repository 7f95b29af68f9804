"""What the async driver dialects share: the loop of each connection and the bridge to it.

An async driver dialect subclasses its sync dialect, so every method a plugin calls accepts
both kinds of connection: the auxiliary connections of the monitor threads are sync
connections of the sibling driver, the application's are async. Methods without I/O
(transaction status, socket descriptor) are inherited unchanged. A method with I/O has a
coroutine form (``*_async``); its sync form, given an async connection on a thread other
than the connection's event loop, schedules the coroutine on that loop and waits in the
calling thread (a failover running in the loop's executor, a monitor thread), so the loop
itself never blocks. On the loop's own thread the sync form raises instead of deadlocking.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, ClassVar, TypeVar

from sturdydb._drivers.base import SessionState
from sturdydb._errors import InterfaceError

__all__ = ["AsyncDialectMixin", "on_loop"]

T = TypeVar("T")

#: When the loop of a connection stopped, a bridged call would wait forever without this.
_BRIDGE_TIMEOUT = 300.0


def on_loop(loop: asyncio.AbstractEventLoop, make: Callable[[], Coroutine[Any, Any, T]],
            timeout: float = _BRIDGE_TIMEOUT) -> T:
    """Run the coroutine ``make()`` on ``loop`` and wait for it in this (non-loop) thread."""
    if _loop_thread(loop):
        raise InterfaceError(
            "a blocking sturdydb call on an async connection was made on its event loop's own "
            "thread (it would deadlock); plugins must run blocking work off-loop "
            "(sturdydb.plugin_api.run_off_loop)"
        )
    if loop.is_closed():
        raise InterfaceError("the event loop of this async connection is closed")
    future = asyncio.run_coroutine_threadsafe(make(), loop)
    return future.result(timeout)


def _drop_outcome(done: Any) -> None:
    if not done.cancelled():
        done.exception()  # retrieved: a failed background close is not worth a warning


def _loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class AsyncDialectMixin:
    """Mixed into an async driver dialect before its sync base class."""

    #: The class of the driver's async connections (set by the subclass's ``__init__``).
    async_connection_class: type[Any]
    #: The sync connect function used for auxiliary connections (monitoring, topology, cancel).
    sync_connect: Callable[..., Any]
    is_async: ClassVar[bool] = True
    #: The sync dialect's name (the driver of the auxiliary connections).
    sync_name: ClassVar[str]

    @property
    def auxiliary_driver(self) -> str:
        return self.sync_name

    @property
    def _loops(self) -> weakref.WeakKeyDictionary[Any, asyncio.AbstractEventLoop]:
        found: weakref.WeakKeyDictionary[Any, asyncio.AbstractEventLoop] | None = self.__dict__.get("_conn_loops")
        if found is None:
            found = self.__dict__.setdefault("_conn_loops", weakref.WeakKeyDictionary())
        return found

    def is_async_connection(self, conn: Any) -> bool:
        return isinstance(conn, self.async_connection_class)

    def loop_of(self, conn: Any) -> asyncio.AbstractEventLoop:
        loop = self._loops.get(conn)
        if loop is None:
            raise InterfaceError("this async connection was not opened by sturdydb.connect_async")
        return loop

    def bridge(self, conn: Any, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``make()`` on ``conn``'s loop from another thread and return its result."""
        return on_loop(self.loop_of(conn), make)

    async def connect_async(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """Await the driver's connect and remember the loop the connection belongs to."""
        conn = await make()
        self._loops[conn] = asyncio.get_running_loop()
        return conn

    def connect_from_thread(self, loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[Any]]) -> Any:
        """The terminal of an async connect chain, which runs in an executor thread."""
        async def run() -> Any:
            return await self.connect_async(make)

        return on_loop(loop, run)

    # -- the coroutine forms each async dialect writes -----------------------------------
    async def set_autocommit_async(self, conn: Any, value: bool) -> None:
        await conn.set_autocommit(value)

    async def query_async(self, conn: Any, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run ``sql`` on the async connection ``conn`` and return its rows (awaited)."""
        raise NotImplementedError

    async def apply_session_state_async(self, conn: Any, state: SessionState) -> None:
        """Apply ``state`` to the async connection ``conn`` (awaited)."""
        raise NotImplementedError

    # -- their sync forms, for plugins running off-loop -----------------------------------
    # A sync connection (an auxiliary one) goes to the sync dialect this mixin precedes.
    def query(self, conn: Any, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        if not self.is_async_connection(conn):
            return super().query(conn, sql, params)  # type: ignore[misc,no-any-return]
        return self.bridge(conn, lambda: self.query_async(conn, sql, params))

    def apply_session_state(self, conn: Any, state: SessionState) -> None:
        if not self.is_async_connection(conn):
            super().apply_session_state(conn, state)  # type: ignore[misc]
            return
        self.bridge(conn, lambda: self.apply_session_state_async(conn, state))

    def close_quietly(self, conn: Any) -> None:
        if not self.is_async_connection(conn):
            super().close_quietly(conn)  # type: ignore[misc]
            return
        loop = self._loops.get(conn)
        try:
            if loop is None or loop.is_closed() or _loop_thread(loop):
                self.close_without_io(conn)  # on the loop itself: close without awaiting
            else:
                on_loop(loop, conn.close, timeout=10.0)
        except Exception:
            try:
                self.close_without_io(conn)
            except Exception:
                pass

    def close_in_background(self, conn: Any) -> None:
        """Close ``conn`` on its loop without waiting for it (a connection being replaced).

        A failover or switch that replaced ``conn`` must not make the application wait for
        its close: the close is scheduled on the loop (ahead of the outcome the waiting task
        gets, both go through the loop's queue) and its errors are dropped.
        """
        if not self.is_async_connection(conn):
            self.close_quietly(conn)
            return
        loop = self._loops.get(conn)
        try:
            if loop is None or loop.is_closed() or _loop_thread(loop):
                self.close_without_io(conn)
                return
            done = asyncio.run_coroutine_threadsafe(conn.close(), loop)
            done.add_done_callback(_drop_outcome)
        except Exception:
            try:
                self.close_without_io(conn)
            except Exception:
                pass

    def close_without_io(self, conn: Any) -> None:
        """Close ``conn`` at once, from any thread, without awaiting anything."""
        raise NotImplementedError
