"""Driver dialect for psycopg 3.

Network-bound calls: client-side cursors receive the whole result inside ``execute``, so their
``fetch*`` never touch the network and stay off the plugin chain (that keeps the hot path
cheap); server-side (named) cursors fetch from the server, so there ``fetch*``/``scroll`` are
network-bound. Timeouts map onto libpq: ``connect_timeout`` (libpq rounds below 2 s up to 2 s),
``tcp_keepalive*`` onto ``keepalives*``, ``socket_timeout`` onto ``tcp_user_timeout`` (plus the
core's watchdog, because a frozen host keeps acknowledging TCP). A pinned host name is passed
as ``hostaddr`` so libpq never resolves it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sturdydb._drivers.base import SessionState
from sturdydb._drivers.pg_family import LibpqDialect, status_reader

__all__ = ["PsycopgDialect"]


class PsycopgDialect(LibpqDialect):
    name: ClassVar[str] = "psycopg"
    context_exit_ends_transaction: ClassVar[bool] = True
    network_bound_methods: ClassVar[frozenset[str]] = LibpqDialect.network_bound_methods | {
        "Connection.execute",
        "Cursor.copy",
        "Cursor.stream",
        "Connection.transaction",
        "Connection.pipeline",
    }

    def __init__(self) -> None:
        import psycopg

        self.module = psycopg
        self._pq = psycopg.pq
        self._server_cursor = psycopg.ServerCursor
        self._idle = psycopg.pq.TransactionStatus.IDLE
        self._unknown = psycopg.pq.TransactionStatus.UNKNOWN
        self._status_reader = status_reader("pgconn.transaction_status")
        self._names: frozenset[str] | None = None

    # -- errors (the rules are LibpqDialect's) ------------------------------------
    def sqlstate(self, exc: BaseException) -> str | None:
        return getattr(exc, "sqlstate", None)

    def is_connect_timeout(self, exc: BaseException) -> bool:
        return isinstance(exc, self.module.errors.ConnectionTimeout)

    def is_unsent_error(self, exc: BaseException) -> bool:
        # psycopg raises exactly this before any I/O when libpq already knows the
        # connection is dead (status BAD).
        return isinstance(exc, self.module.OperationalError) and not exc.sqlstate and (
            str(exc) == "the connection is closed")

    # -- connecting -------------------------------------------------------------
    def property_names(self) -> frozenset[str]:
        if self._names is None:
            keywords = {d.keyword.decode() for d in self._pq.Conninfo.get_defaults()}
            keywords |= {"autocommit", "prepare_threshold", "context", "row_factory",
                         "cursor_factory", "conninfo"}
            self._names = frozenset(keywords)
        return self._names

    # -- connection state -------------------------------------------------------
    def socket_fd(self, conn: Any) -> int | None:
        pgconn = conn.pgconn
        if pgconn.status == self._pq.ConnStatus.BAD and pgconn.socket < 0:
            return None
        try:
            return int(pgconn.socket)
        except Exception:  # closed connection: libpq has no socket any more
            return None

    def is_closed(self, conn: Any) -> bool:
        return bool(conn.closed) or bool(conn.broken)

    def cancel_statement(self, conn: Any, timeout: float, open_auxiliary: Callable[[], Any]) -> bool:
        try:
            cancel_safe = getattr(conn, "cancel_safe", None)
            if cancel_safe is not None:
                # libpq 17+: a non-blocking cancel connection bounded by the timeout (older
                # libpq falls back to the blocking PQcancel; callers bound their wait).
                cancel_safe(timeout=max(0.1, timeout))
            else:
                conn.cancel()
        except Exception:
            return False
        return True

    def cursor_statement(self, cursor: Any) -> Any:
        query = getattr(cursor, "_query", None)
        return getattr(query, "query", None)

    # psycopg has the attributes itself (None meaning "the server's default"); it refuses a
    # change inside a transaction, as the application would see without sturdydb.
    def set_read_only(self, conn: Any, value: bool | None) -> None:
        conn.read_only = value

    def set_isolation_level(self, conn: Any, value: Any) -> None:
        conn.isolation_level = value

    def get_read_only(self, conn: Any, session: SessionState) -> Any:
        return conn.read_only

    def get_isolation_level(self, conn: Any, session: SessionState) -> Any:
        return conn.isolation_level

    def cursor_is_server_side(self, cursor: Any) -> bool:
        return isinstance(cursor, self._server_cursor)
