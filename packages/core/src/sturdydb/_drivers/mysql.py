"""Driver dialect for mysql-connector-python (pure-Python and C extension).

Network-bound calls: mysql-connector's default cursors are unbuffered, so ``fetch*`` read from
the server; ``Connection.cursor()`` pings the server first. Timeouts map onto the driver's
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
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb._addresses import resolve_host
from sturdydb._drivers.base import DriverDialect, SessionState
from sturdydb._errors import QueryTimeoutError
from sturdydb._properties import coerce_bool

if TYPE_CHECKING:
    from sturdydb._hosts import HostInfo
    from sturdydb._properties import Properties

__all__ = ["MysqlConnectorDialect"]

# Failover starts only when the session is gone. mysql-connector's own client errors for a
# socket that is gone or never came up: 2001/2002 (Unix socket), 2003/2004 (TCP connect),
# 2005 (unknown host), 2006 (server has gone away), 2012 (handshake), 2013 (lost connection
# during query), 2026 (TLS setup), 2055 (lost connection, system error).
_CLIENT_NETWORK_ERRNOS = frozenset({2001, 2002, 2003, 2004, 2005, 2006, 2012, 2013, 2026, 2055})
# Server errors sent just before the server closes the session: 1053 server shutdown in
# progress, 1080 forcing close of thread, 1152/1184 aborted connection, 1158-1161 network
# read/write errors, 1927 connection killed (MariaDB, ``KILL <id>``). Every other server errno
# is an answer of a working server to a statement (1062 duplicate key, 1205 lock wait timeout,
# 1213 deadlock, 1969 max_statement_time, 1317 ``KILL QUERY``, SIGNAL with any errno...).
# 4031 is deliberately absent: MySQL 8 sends it for "disconnected because of inactivity", but
# on MariaDB it means "referenced trigger does not exist"; the message tells them apart.
_SERVER_NETWORK_ERRNOS = frozenset({1053, 1080, 1152, 1158, 1159, 1160, 1161, 1184, 1927})
# The driver's own messages (errno -1 or a client errno) when the socket is gone.
_NETWORK_MESSAGES = (
    "mysql connection not available",
    "lost connection",
    "server has gone away",
    "connection refused",
    "connection reset",
    "broken pipe",
    "can't connect to",
)
_READ_ONLY_ERRNOS = frozenset({1290, 1836})
_SECRET_KEYS = ("password", "passwd", "password1", "password2", "password3")
_BOOL_KEYS = frozenset({"autocommit", "use_pure", "ssl_disabled", "buffered", "raw", "compress",
                        "get_warnings", "raise_on_warnings", "consume_results", "use_unicode",
                        "allow_local_infile", "ssl_verify_cert", "ssl_verify_identity"})
_INT_KEYS = frozenset({"port", "connection_timeout", "connect_timeout", "read_timeout",
                       "write_timeout", "client_flags"})


class MysqlConnectorDialect(DriverDialect):
    name: ClassVar[str] = "mysql-connector-python"
    default_port: ClassVar[int] = 3306
    session_namespace: ClassVar[str] = "database"
    database_family: ClassVar[str] = "mysql"
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
        "Cursor.fetchone",
        "Cursor.fetchmany",
        "Cursor.fetchall",
        "Cursor.__next__",
        "Cursor.nextset",
    })

    def __init__(self) -> None:
        import mysql.connector

        self.module = mysql.connector
        self._errors = mysql.connector.errors
        self._names: frozenset[str] | None = None


    # -- errors -----------------------------------------------------------------
    def is_network_error(self, exc: BaseException) -> bool:
        if isinstance(exc, QueryTimeoutError):
            # A statement cancelled on a host that answered left the connection usable.
            return not exc.cancelled
        errors = self._errors
        if isinstance(exc, (errors.ConnectionTimeoutError, errors.ReadTimeoutError, errors.WriteTimeoutError)):
            return True
        if isinstance(exc, (ConnectionError, TimeoutError, BrokenPipeError)):
            return True
        if not isinstance(exc, errors.Error):
            return False
        code = exc.errno
        if code in _CLIENT_NETWORK_ERRNOS or code in _SERVER_NETWORK_ERRNOS:
            return True
        message = str(exc).lower()
        if code == 4031:
            return "disconnected by the server" in message
        if code is None or code < 0 or 2000 <= code < 3000:
            # Raised by the driver itself, never by the server: a server's message (a SIGNAL's
            # MESSAGE_TEXT can say anything) is never matched against these.
            return any(m in message for m in _NETWORK_MESSAGES)
        return False

    def is_login_error(self, exc: BaseException) -> bool:
        errors = self._errors
        return isinstance(exc, errors.Error) and (exc.sqlstate == "28000" or exc.errno in (1045, 1698))

    def is_read_only_error(self, exc: BaseException) -> bool:
        errors = self._errors
        if not isinstance(exc, errors.Error):
            return False
        return exc.errno in _READ_ONLY_ERRNOS and (exc.errno == 1836 or "read-only" in str(exc) or "read_only" in str(exc))

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

    def is_cancel_error(self, exc: BaseException) -> bool:
        # ER_QUERY_INTERRUPTED, the answer to KILL QUERY.
        return isinstance(exc, self._errors.Error) and exc.errno == 1317

    # -- connecting -------------------------------------------------------------
    def property_names(self) -> frozenset[str]:
        if self._names is None:
            from mysql.connector.constants import DEFAULT_CONFIGURATION

            self._names = frozenset(DEFAULT_CONFIGURATION) | {
                "pool_name", "pool_size", "option_files", "option_groups", "failover", "database",
            }
        return self._names

    def connect(
        self, target: Callable[..., Any], host: HostInfo, kwargs: dict[str, Any], props: Properties
    ) -> Any:
        kw = self._native_kwargs(kwargs, props)
        address = host.host
        port = host.port
        pin = resolve_host(host.host)
        if pin is not None:
            address = pin.address
            if pin.port is not None:
                port = pin.port
        kw["host"] = address
        if port is not None:
            kw["port"] = port
        else:
            kw.pop("port", None)
        conn = target(**kw)
        if props.get("tcp_keepalive"):
            try:
                self.set_keepalive(conn, props)
            except OSError:
                pass
        return conn

    def _native_kwargs(self, kwargs: dict[str, Any], props: Properties) -> dict[str, Any]:
        """The driver's keywords for ``kwargs``: typed values and native timeout options.

        Computed once per distinct keyword set (connect plans share their Properties), since
        a pool opens many connections with the same arguments.
        """
        # Credentials change per connect with IAM tokens: they are neither part of the key nor
        # kept in the cache, so the cache stays small and holds no secret.
        secrets = {k: kwargs[k] for k in _SECRET_KEYS if k in kwargs}
        key: tuple[Any, ...] | None = (
            "mysql_native", tuple(item for item in kwargs.items() if item[0] not in secrets)
        )
        try:
            cached = props._cache.get(key)
        except TypeError:  # unhashable values: compute every time
            cached, key = None, None
        if cached is not None:
            return {**cached, **secrets}
        kw: dict[str, Any] = {}
        for name, value in kwargs.items():
            if isinstance(value, str):
                if name in _INT_KEYS and value.strip().lstrip("-").isdigit():
                    value = int(value)
                elif name in _BOOL_KEYS and value.strip().lower() in ("true", "false", "1", "0"):
                    value = value.strip().lower() in ("true", "1")
            kw[name] = value
        if "dbname" in kw:
            kw["database"] = kw.pop("dbname")
        timeout = props.get("connect_timeout")
        if timeout is not None and "connection_timeout" not in kw and "connect_timeout" not in kw:
            kw["connection_timeout"] = max(1, round(float(timeout)))
        socket_timeout = props.get("socket_timeout")
        if socket_timeout:
            # Later than the watchdog's cancel (socket_timeout, then up to the auxiliary
            # timeout for the host to answer the cancel): see the module documentation.
            aux = props.get("auxiliary_query_timeout_sec")
            seconds = max(1, math.ceil(float(socket_timeout) + float(aux or 0) + 1))
            kw.setdefault("read_timeout", seconds)
            kw.setdefault("write_timeout", seconds)
        if key is not None:
            props._cache[key] = {k: v for k, v in kw.items() if k not in secrets}
        return kw

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

    def cancel_statement(self, conn: Any, timeout: float, open_auxiliary: Callable[[], Any]) -> bool:
        from sturdydb._watchdog import bounded

        try:
            connection_id = int(conn.connection_id)
        except Exception:
            return False
        try:
            aux = open_auxiliary()
        except Exception:
            return False
        try:
            # KILL QUERY stops the statement and keeps the connection; the server answers
            # once the kill flag is set.
            bounded(self, aux, timeout, lambda: self.query(aux, f"KILL QUERY {connection_id}"))
        except Exception:
            return False
        finally:
            self.close_quietly(aux)
        return True

    def cursor_statement(self, cursor: Any) -> Any:
        return getattr(cursor, "statement", None)

    def cursor_is_server_side(self, cursor: Any) -> bool:
        # Buffered cursors (MySQLCursorBuffered*, CMySQLCursorBuffered*) read the whole result
        # in execute(); the default cursors stream it from the server.
        return "Buffered" not in type(cursor).__name__

    def read_session_state(self, conn: Any) -> SessionState:
        try:  # MySQL 8 and MariaDB 11.1+
            rows = self.query(conn, "SELECT DATABASE(), @@session.transaction_read_only, @@session.transaction_isolation")
        except self._errors.DatabaseError:  # MariaDB before 11.1 only knows the tx_* names
            rows = self.query(conn, "SELECT DATABASE(), @@session.tx_read_only, @@session.tx_isolation")
        database, read_only, isolation = rows[0] if rows else (None, None, None)
        return SessionState(
            autocommit=bool(conn.autocommit),
            read_only=bool(int(read_only)) if read_only is not None else None,
            isolation_level=isolation,
            database=database,
        )

    def apply_session_state(self, conn: Any, state: SessionState) -> None:
        if state.autocommit is not None:
            conn.autocommit = state.autocommit
        if state.database is not None:
            conn.database = state.database
        if state.read_only is not None:
            self.set_read_only(conn, state.read_only)
        if state.isolation_level is not None:
            self.set_isolation_level(conn, state.isolation_level)

    # mysql-connector has no such attributes: the session is changed with SQL, and the getters
    # (base class) answer what sturdydb last set.
    def set_read_only(self, conn: Any, value: bool | None) -> None:
        self.query(conn, f"SET SESSION TRANSACTION {'READ ONLY' if value else 'READ WRITE'}")

    def set_isolation_level(self, conn: Any, value: Any) -> None:
        level = str(value).replace("-", " ").replace("_", " ").upper()
        if level not in ("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"):
            raise ValueError(f"unknown isolation level {value!r}")
        self.query(conn, f"SET SESSION TRANSACTION ISOLATION LEVEL {level}")

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

    def verify_server_identity(self, kwargs: dict[str, Any], ca_bundle: str | None) -> str | None:
        if ca_bundle:
            kwargs.setdefault("ssl_ca", ca_bundle)
            kwargs.setdefault("ssl_verify_cert", True)
            kwargs.setdefault("ssl_verify_identity", True)
        if coerce_bool("ssl_disabled", kwargs.get("ssl_disabled") or False):
            return "ssl_disabled=true: no TLS at all"
        if coerce_bool("ssl_verify_identity", kwargs.get("ssl_verify_identity") or False):
            return None
        if coerce_bool("ssl_verify_cert", kwargs.get("ssl_verify_cert") or False):
            return "ssl_verify_cert without ssl_verify_identity checks the certificate but not the host name"
        return "TLS without ssl_verify_cert/ssl_verify_identity does not check the certificate"

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
        was_idle = not self.in_transaction(conn)
        cur = conn.cursor(buffered=True)
        try:
            cur.execute(sql, params)
            rows = cur.fetchall() if cur.description is not None else []
        finally:
            try:
                cur.close()
            except Exception:
                pass
        if was_idle and self.in_transaction(conn):
            conn.rollback()
        return [tuple(r) for r in rows]


def _uses_pure_python(kwargs: dict[str, Any]) -> bool:
    use_pure = kwargs.get("use_pure")
    if use_pure is not None:
        return coerce_bool("use_pure", use_pure)
    try:
        from mysql.connector import HAVE_CEXT
    except ImportError:  # pragma: no cover - the driver is what we are connecting with
        return True
    return not HAVE_CEXT
