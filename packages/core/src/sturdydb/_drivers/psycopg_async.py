"""Driver dialect for psycopg 3's ``AsyncConnection``.

Everything libpq-specific is the sync :class:`~sturdydb._drivers.psycopg.PsycopgDialect`'s:
keywords, error rules, transaction status, socket abort. What differs is that I/O is awaited:
the coroutine forms below, and their sync forms for plugins running off-loop (see
:mod:`sturdydb._drivers.aio`). Auxiliary connections (monitoring, topology) are sync
``psycopg.Connection`` objects, which the inherited methods serve as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sturdydb._drivers.aio import AsyncDialectMixin
from sturdydb._drivers.base import SessionState
from sturdydb._drivers.psycopg import PsycopgDialect

__all__ = ["AsyncPsycopgDialect"]


class AsyncPsycopgDialect(AsyncDialectMixin, PsycopgDialect):
    name: ClassVar[str] = "psycopg-async"
    sync_name: ClassVar[str] = PsycopgDialect.name

    def __init__(self) -> None:
        super().__init__()
        import psycopg

        self.async_connection_class = psycopg.AsyncConnection
        self.sync_connect = psycopg.Connection.connect

    # -- the wrapper's awaited calls --------------------------------------------------
    async def open_cursor(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        return conn.cursor(*args, **kwargs)

    async def set_read_only_async(self, conn: Any, value: bool | None) -> None:
        await conn.set_read_only(value)

    async def set_isolation_level_async(self, conn: Any, value: Any) -> None:
        await conn.set_isolation_level(value)

    def known_autocommit(self, conn: Any) -> bool:
        return bool(conn.autocommit)

    async def query_async(self, conn: Any, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        was_idle = conn.info.transaction_status == self._idle
        async with conn.cursor() as cur:
            try:
                await cur.execute(sql, params)
                rows = await cur.fetchall() if cur.description is not None else []
            except Exception:
                if was_idle and not conn.autocommit and not conn.closed:
                    try:
                        await conn.rollback()
                    except Exception:
                        pass
                raise
        if was_idle and not conn.autocommit and conn.info.transaction_status != self._idle:
            await conn.rollback()
        return [tuple(r) for r in rows]

    async def apply_session_state_async(self, conn: Any, state: SessionState) -> None:
        if state.autocommit is not None:
            await conn.set_autocommit(state.autocommit)
        if state.read_only is not None:
            await conn.set_read_only(state.read_only)
        if state.isolation_level is not None:
            await conn.set_isolation_level(state.isolation_level)
        if state.schema is not None:
            was_idle = conn.info.transaction_status == self._idle
            async with conn.cursor() as cur:
                await cur.execute("SELECT pg_catalog.set_config('search_path', %s, false)", [state.schema])
            if was_idle and not conn.autocommit:
                await conn.commit()

    def cancel_statement(self, conn: Any, timeout: float, open_auxiliary: Any) -> bool:
        if not self.is_async_connection(conn):
            return super().cancel_statement(conn, timeout, open_auxiliary)
        bound = max(0.1, timeout)
        try:
            # The non-blocking cancel connection, polled on the connection's loop (this thread
            # waits). Not PQcancel: it blocks, holding the GIL, until a frozen host answers.
            self.bridge(conn, lambda: conn.cancel_safe(timeout=bound))
        except Exception:
            return False
        return True

    def close_without_io(self, conn: Any) -> None:
        conn.pgconn.finish()
