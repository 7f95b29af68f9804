"""Driver dialect for ``mysql.connector.aio`` (mysql-connector-python's asyncio API).

Keywords, errno rules, ``KILL QUERY`` cancel and session SQL are the sync
:class:`~sturdydb._drivers.mysql.MysqlConnectorDialect`'s. The aio connection talks through
asyncio streams; its socket is the transport's, so abort (a shutdown through a duplicate
of the descriptor, from any thread) works as for the pure-Python sync driver. Auxiliary
connections are sync ``mysql.connector`` connections (pure Python, so they can be aborted).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sturdydb._drivers.aio import AsyncDialectMixin
from sturdydb._drivers.base import SessionState
from sturdydb._drivers.mysql import MysqlConnectorDialect

__all__ = ["AsyncMysqlDialect"]


def _transport_socket(conn: Any) -> Any:
    sock = getattr(conn, "_socket", None)
    writer = getattr(sock, "_writer", None)
    transport = getattr(writer, "transport", None)
    return None if transport is None else transport.get_extra_info("socket")


class AsyncMysqlDialect(AsyncDialectMixin, MysqlConnectorDialect):
    name: ClassVar[str] = "mysql-connector-aio"
    sync_name: ClassVar[str] = MysqlConnectorDialect.name
    abort_unsupported_hint: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        import mysql.connector
        import mysql.connector.aio

        self.async_connection_class = mysql.connector.aio.MySQLConnection
        self.sync_connect = mysql.connector.connect

    def connect(self, target: Any, host: Any, kwargs: dict[str, Any], props: Any) -> Any:
        if target is self.sync_connect:
            # Auxiliary connections abort by their socket: the C extension exposes none.
            kwargs = {**kwargs, "use_pure": True}
        else:
            kwargs = {k: v for k, v in kwargs.items() if k != "use_pure"}  # aio has no C extension
        return super().connect(target, host, kwargs, props)

    # -- connection state ---------------------------------------------------------------
    def socket_fd(self, conn: Any) -> int | None:
        if not self.is_async_connection(conn):
            return super().socket_fd(conn)
        sock = _transport_socket(conn)
        if sock is None:
            return None
        fd = int(sock.fileno())
        return fd if fd >= 0 else None

    def is_closed(self, conn: Any) -> bool:
        if not self.is_async_connection(conn):
            return super().is_closed(conn)
        return self.socket_fd(conn) is None

    def known_autocommit(self, conn: Any) -> bool:
        return bool(getattr(conn, "_autocommit", False))

    # -- the wrapper's awaited calls --------------------------------------------------
    async def open_cursor(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        return await conn.cursor(*args, **kwargs)

    async def set_read_only_async(self, conn: Any, value: bool | None) -> None:
        await self.query_async(conn, self.read_only_statement(value))

    async def set_isolation_level_async(self, conn: Any, value: Any) -> None:
        await self.query_async(conn, self.isolation_statement(value))

    async def query_async(self, conn: Any, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        was_idle = not self.in_transaction(conn)
        cur = await conn.cursor(buffered=True)
        try:
            await cur.execute(sql, params)
            rows = await cur.fetchall() if cur.description is not None else []
        finally:
            try:
                await cur.close()
            except Exception:
                pass
        if was_idle and self.in_transaction(conn):
            await conn.rollback()
        return [tuple(r) for r in rows]

    async def apply_session_state_async(self, conn: Any, state: SessionState) -> None:
        if state.autocommit is not None:
            await conn.set_autocommit(state.autocommit)
        if state.database is not None:
            await conn.cmd_init_db(state.database)
        if state.read_only is not None:
            await self.set_read_only_async(conn, state.read_only)
        if state.isolation_level is not None:
            await self.set_isolation_level_async(conn, state.isolation_level)

    def close_without_io(self, conn: Any) -> None:
        sock = getattr(conn, "_socket", None)
        writer = getattr(sock, "_writer", None)
        if writer is not None:
            writer.transport.abort()
