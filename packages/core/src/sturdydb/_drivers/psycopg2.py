"""Driver dialect for psycopg2 (``psycopg2`` and ``psycopg2-binary``).

psycopg2 is a libpq client like psycopg 3, so error classification, the libpq connect keywords
(``connect_timeout``, ``keepalives*``, ``tcp_user_timeout``, ``hostaddr`` for a pinned host),
TLS, transaction status and sturdydb's own queries come from :class:`LibpqDialect`; this module
holds only how psycopg2 exposes them: the SQLSTATE is ``exc.pgcode``, the socket is
``conn.fileno()``, the transaction status ``conn.get_transaction_status()`` (UNKNOWN once the
connection broke, so failover reads it before each call), read-only is ``conn.readonly``,
cancel is ``pg_cancel_backend`` over a side connection (psycopg2's ``conn.cancel()`` blocks
holding the GIL), and ``with conn:`` ends the transaction without closing the connection.

Network-bound calls: psycopg2's default cursors receive the whole result inside ``execute``
(fetches read memory); named cursors are server-side, so there ``fetch*``/``scroll``/``close``
go to the server. ``copy_expert``/``copy_from``/``copy_to`` and ``set_session`` pass through
to the driver without the plugins (as any method sturdydb does not wrap).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb._drivers.base import SessionState
from sturdydb._drivers.pg_family import LibpqDialect
from sturdydb._properties import coerce_bool

if TYPE_CHECKING:
    from sturdydb._hosts import HostInfo
    from sturdydb._properties import Properties

__all__ = ["Psycopg2Dialect"]

# libpq's connect keywords (PostgreSQL 17), which psycopg2 passes through as they are, and
# psycopg2's own connect arguments. psycopg2 has no API listing libpq's keywords.
_LIBPQ_KEYWORDS = frozenset({
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "channel_binding",
    "connect_timeout", "client_encoding", "options", "application_name",
    "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "sslmode",
    "sslnegotiation", "requiressl", "sslcompression", "sslcert", "sslkey", "sslpassword",
    "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
    "ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib",
    "gssdelegation", "service", "target_session_attrs", "load_balance_hosts", "require_auth",
})
_PSYCOPG2_ARGUMENTS = frozenset({"dsn", "connection_factory", "cursor_factory", "async", "async_", "database"})
# psycopg2's own messages for a connection that is gone (besides libpq's): the first is raised
# before any I/O once the connection is closed or broken; the others are libpq's connect
# failures as psycopg2 reports them, without the "connection failed:" prefix psycopg 3 adds
# (login and missing-database failures are told apart first, by LibpqDialect).
_PSYCOPG2_NETWORK_MESSAGES = ("connection already closed", "timeout expired", "connection to server",
                              "could not connect to server", "could not translate host name")


#: psycopg2's errors for a call it refuses before any I/O (a closed connection or cursor).
_REFUSED_MESSAGES = frozenset({"connection already closed", "cursor already closed"})


class Psycopg2Dialect(LibpqDialect):
    name: ClassVar[str] = "psycopg2"
    # ``with conn:`` commits on success and rolls back on error, and leaves the connection open.
    context_exit_ends_transaction: ClassVar[bool] = True
    context_exit_closes: ClassVar[bool] = False
    extra_network_messages: ClassVar[tuple[str, ...]] = _PSYCOPG2_NETWORK_MESSAGES
    # psycopg2's COPY methods, besides LibpqDialect's (server_cursor_methods: LibpqDialect's).
    network_bound_methods: ClassVar[frozenset[str]] = LibpqDialect.network_bound_methods | {
        "Cursor.copy_from", "Cursor.copy_to", "Cursor.copy_expert",
    }
    #: A named (server-side) cursor is a plain ``cursor`` with a name.
    server_side_by_class: ClassVar[bool] = False

    def __init__(self) -> None:
        import psycopg2
        import psycopg2.extensions

        self.module = psycopg2
        self._idle = psycopg2.extensions.TRANSACTION_STATUS_IDLE
        self._unknown = psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN
        # A method of the C connection object: no ConnectionInfo allocated per call (the
        # ``conn.info`` property builds one), and it answers UNKNOWN after close, never raises.
        self._status_reader = operator.methodcaller("get_transaction_status")

    # -- errors (the rules are LibpqDialect's) ------------------------------------
    def sqlstate(self, exc: BaseException) -> str | None:
        return getattr(exc, "pgcode", None)

    def is_unsent_error(self, exc: BaseException) -> bool:
        # psycopg2 raises exactly these before any I/O: the connection's when it is already
        # closed or broken (``conn.closed`` non-zero), the cursor's when the cursor or its
        # connection is closed.
        return isinstance(exc, self.module.InterfaceError) and str(exc) in _REFUSED_MESSAGES

    def is_closed_connection_error(self, exc: BaseException, conn: Any) -> bool:
        # A cursor of a closed or broken connection refuses every call with "cursor already
        # closed", before any I/O; the same words for a cursor the application closed itself
        # on an open connection are the application's own error, not a lost connection.
        return (isinstance(exc, self.module.InterfaceError) and str(exc) == "cursor already closed"
                and bool(getattr(conn, "closed", 0)))

    # -- connecting -------------------------------------------------------------
    def property_names(self) -> frozenset[str]:
        return _LIBPQ_KEYWORDS | _PSYCOPG2_ARGUMENTS | {"autocommit"}

    def connect(
        self, target: Callable[..., Any], host: HostInfo, kwargs: dict[str, Any], props: Properties
    ) -> Any:
        # psycopg2.connect has no ``autocommit`` argument (libpq would refuse the keyword);
        # sturdydb accepts it for every driver and sets the attribute right after connecting.
        autocommit = kwargs.get("autocommit")
        if autocommit is None:
            return super().connect(target, host, kwargs, props)
        conn = super().connect(target, host, {k: v for k, v in kwargs.items() if k != "autocommit"}, props)
        try:
            conn.autocommit = coerce_bool("autocommit", autocommit)
        except BaseException:
            self.close_quietly(conn)
            raise
        return conn

    # -- connection state -------------------------------------------------------
    def socket_fd(self, conn: Any) -> int | None:
        if conn.closed:
            return None
        try:
            fd = int(conn.fileno())
        except Exception:  # closed in between: libpq has no socket any more
            return None
        return fd if fd >= 0 else None

    def is_closed(self, conn: Any) -> bool:
        # 0 open, 1 closed by the application, 2 broken (psycopg2 saw the connection fail).
        return bool(conn.closed)

    def cancel_statement(self, conn: Any, timeout: float, open_auxiliary: Callable[[], Any]) -> bool:
        # Not psycopg2's conn.cancel(): it runs libpq's blocking PQcancel without releasing
        # the GIL, so a host that accepts the cancel connection and never answers would freeze
        # every thread of the process, the watchdog included. pg_cancel_backend over a side
        # connection (a session may cancel the backends of its own role) is bounded like any
        # auxiliary query.
        from sturdydb._watchdog import bounded

        try:
            pid = int(conn.get_backend_pid())
        except Exception:
            return False
        try:
            aux = open_auxiliary()
        except Exception:
            return False
        try:
            aux.autocommit = True
            rows = bounded(self, aux, timeout, lambda: self.query(aux, "SELECT pg_catalog.pg_cancel_backend(%s)", [pid]))
        except Exception:
            return False
        finally:
            self.close_quietly(aux)
        return bool(rows and rows[0][0])

    def cursor_statement(self, cursor: Any) -> Any:
        # The text psycopg2 last sent (bytes, parameters merged in), set before sending.
        return getattr(cursor, "query", None)

    # psycopg2 has the attributes itself (None meaning "the server's default"); it refuses a
    # change inside a transaction, as the application would see without sturdydb.
    def set_read_only(self, conn: Any, value: bool | None) -> None:
        conn.readonly = value

    def set_isolation_level(self, conn: Any, value: Any) -> None:
        conn.isolation_level = value

    def get_read_only(self, conn: Any, session: SessionState) -> Any:
        return conn.readonly

    def get_isolation_level(self, conn: Any, session: SessionState) -> Any:
        return conn.isolation_level

    # psycopg2 cursors refuse every call once their connection is closed, even when the
    # whole result is already in memory.
    results_outlive_connection: ClassVar[bool] = False

    def cursor_is_server_side(self, cursor: Any) -> bool:
        return getattr(cursor, "name", None) is not None
