"""Driver dialect for mysql-connector-python (pure-Python and C extension).

Network-bound calls: mysql-connector's default cursors are unbuffered, so their ``fetch*`` (and
a ``close`` that drains an unread result, with ``consume_results``) read from the server, while a buffered cursor's fetches
read memory; ``Connection.cursor()`` pings the server first. Timeouts map onto the driver's
own options: ``connect_timeout`` onto ``connection_timeout``, ``socket_timeout`` onto
``read_timeout``/``write_timeout`` as a backstop that expires only after the core's watchdog
had its chance to cancel the statement (``socket_timeout + auxiliary_query_timeout_sec + 1``:
a native read timeout leaves the connection unusable, a cancel does not); keepalives are set
on the socket after connecting.
A pinned host name is replaced by its address (the driver has no separate ``hostaddr``).
Abort works for both implementations by shutting the socket down through a duplicate of its
descriptor (the reference wrapper refuses monitoring on MySQL for lack of this).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import Any, ClassVar

from sturdydb._drivers.mysql_family import MysqlFamilyDialect
from sturdydb._properties import coerce_bool

__all__ = ["MysqlConnectorDialect"]

_BOOL_KEYS = frozenset({"autocommit", "use_pure", "ssl_disabled", "buffered", "raw", "compress",
                        "get_warnings", "raise_on_warnings", "consume_results", "use_unicode",
                        "allow_local_infile", "ssl_verify_cert", "ssl_verify_identity"})
_INT_KEYS = frozenset({"port", "connection_timeout", "connect_timeout", "read_timeout",
                       "write_timeout", "client_flags"})


class MysqlConnectorDialect(MysqlFamilyDialect):
    name: ClassVar[str] = "mysql-connector-python"
    int_keywords: ClassVar[frozenset[str]] = _INT_KEYS
    bool_keywords: ClassVar[frozenset[str]] = _BOOL_KEYS
    connect_timeout_keywords: ClassVar[tuple[str, ...]] = ("connection_timeout", "connect_timeout")
    abort_unsupported_hint: ClassVar[str] = " (connect with use_pure=True)"
    network_bound_methods: ClassVar[frozenset[str]] = frozenset({
        "Connection.commit",
        "Connection.rollback",
        "Connection.cursor",
        "Connection.autocommit_setter",
        "Connection.database_setter",
        "Connection.start_transaction",
        "Connection.cmd_query",
        "Connection.ping",
        "Cursor.execute",
        "Cursor.executemany",
        "Cursor.callproc",
        "Cursor.nextset",
    })
    # Additionally network-bound for the unbuffered (default) cursors only: a buffered cursor
    # (SQLAlchemy's default, ``buffered=True``) read its whole result in execute(), so its
    # fetches never touch the socket; an unbuffered one reads rows, and its close() reads
    # whatever the application left unread (with ``consume_results``; else it raises).
    server_cursor_methods: ClassVar[frozenset[str]] = frozenset({
        "Cursor.fetchone", "Cursor.fetchmany", "Cursor.fetchall", "Cursor.__next__", "Cursor.close",
    })

    def __init__(self) -> None:
        import mysql.connector

        self.module = mysql.connector
        self._errors = mysql.connector.errors
        self._names: frozenset[str] | None = None

    # -- errors (the errno rules are MysqlFamilyDialect's) --------------------------
    def errno(self, exc: BaseException) -> int | None:
        return getattr(exc, "errno", None)

    def is_driver_network_error(self, exc: BaseException) -> bool:
        errors = self._errors
        return isinstance(exc, (errors.ConnectionTimeoutError, errors.ReadTimeoutError, errors.WriteTimeoutError))

    def is_unsent_error(self, exc: BaseException) -> bool:
        # Raised (from an AttributeError) when the driver has no socket any more, or with
        # EBADF when the connection was closed (its descriptor is gone): either way before
        # anything of the call could be written.
        if not isinstance(exc, self._errors.OperationalError):
            return False
        if str(exc).startswith("MySQL Connection not available"):
            return True
        cause = exc.__cause__
        return isinstance(cause, OSError) and cause.errno == errno.EBADF

    # -- connecting -------------------------------------------------------------
    def property_names(self) -> frozenset[str]:
        if self._names is None:
            from mysql.connector.constants import DEFAULT_CONFIGURATION

            self._names = frozenset(DEFAULT_CONFIGURATION) | {
                "pool_name", "pool_size", "option_files", "option_groups", "failover", "database",
            }
        return self._names

    # -- connection state -------------------------------------------------------
    def socket_fd(self, conn: Any) -> int | None:
        sock = getattr(conn, "_socket", None)
        inner = getattr(sock, "sock", None)
        if inner is not None:
            fd = inner.fileno()
            return fd if fd >= 0 else None
        # C extension: the socket belongs to libmysqlclient, which exposes no descriptor.
        # Guessing it (by peer address) could shut down another connection's socket, so
        # abort is unsupported there; connect with use_pure=True for monitoring.
        return None

    def is_closed(self, conn: Any) -> bool:
        sock = getattr(conn, "_socket", None)
        if sock is not None:
            # Without a round trip: after close() the pure-Python driver keeps its socket
            # wrapper, whose socket object is closed (descriptor -1), not removed.
            inner = getattr(sock, "sock", None)
            return inner is None or inner.fileno() < 0
        try:
            return not conn.is_connected()
        except Exception:
            return True

    def in_transaction(self, conn: Any) -> bool:
        try:
            return bool(conn.in_transaction)
        except Exception:
            return False

    def autocommit_state(self, conn: Any) -> bool | None:
        # The driver's ``autocommit`` property asks the server. The C extension keeps the
        # server's last status flags (SERVER_STATUS_AUTOCOMMIT is 0x2), which also reflect
        # ``SET autocommit=...`` sent as SQL; the pure-Python driver keeps only the value it
        # set itself, which such SQL bypasses, so there the answer is "unknown".
        status = getattr(conn, "_server_status", None)
        return bool(status & 0x2) if isinstance(status, int) else None

    def connection_id(self, conn: Any) -> int:
        return int(conn.connection_id)

    def cursor_statement(self, cursor: Any) -> Any:
        return getattr(cursor, "statement", None)

    def cursor_is_server_side(self, cursor: Any) -> bool:
        # Buffered cursors (MySQLCursorBuffered*, CMySQLCursorBuffered*) read the whole result
        # in execute(); the default cursors stream it from the server.
        return "Buffered" not in type(cursor).__name__

    def probe(self, conn: Any) -> None:
        # cursor() pings the server first (a second round trip, which would make a probe of a
        # slow host take twice its latency): the query goes through cmd_query directly.
        cmd_query = getattr(conn, "cmd_query", None)
        if cmd_query is None:
            super().probe(conn)
            return
        cmd_query("SELECT 1")
        conn.get_rows()

    def require_tls(self, kwargs: dict[str, Any]) -> str | None:
        if coerce_bool("ssl_disabled", kwargs.get("ssl_disabled") or False):
            return "ssl_disabled=true connects without TLS; remove it"
        return None

    def enable_clear_text_password(self, kwargs: dict[str, Any]) -> None:
        """Let mysql-connector send a token as the password (``mysql_clear_password``).

        Pure-Python mode: the driver lets the server ask for ``mysql_clear_password`` (RDS
        sends an AuthSwitchRequest, because the account's plugin is the IAM one). The answer
        to a switch is a bare packet with no length byte, so it carries tokens of any size;
        setting ``auth_plugin=mysql_clear_password`` up front would put the token in the
        handshake response behind a one-byte length (the reference's 255-byte limit). The
        driver's own clear-text plugin refuses to run without TLS.

        C extension: libmysqlclient only enables its clear-text plugin when asked, so
        ``auth_plugin=mysql_clear_password`` is set (it has no length limit). An
        ``auth_plugin`` the user chose is kept.
        """
        if "auth_plugin" in kwargs:
            return
        if not _uses_pure_python(kwargs):
            kwargs["auth_plugin"] = "mysql_clear_password"

    def query(self, conn: Any, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.query_rows(conn, conn.cursor(buffered=True), sql, params)


def _uses_pure_python(kwargs: dict[str, Any]) -> bool:
    use_pure = kwargs.get("use_pure")
    if use_pure is not None:
        return coerce_bool("use_pure", use_pure)
    try:
        from mysql.connector import HAVE_CEXT
    except ImportError:  # pragma: no cover - the driver is what we are connecting with
        return True
    return not HAVE_CEXT
