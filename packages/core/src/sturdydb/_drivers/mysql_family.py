"""What mysql-connector-python and PyMySQL share: the MySQL protocol's errors and session SQL.

Both drivers report the server's errno and the same client error numbers (2006 server gone
away, 2013 lost connection...), so which errors mean "the session is gone" is decided once
here. The session state (``SET SESSION TRANSACTION ...``, the ``@@session`` variables), the
``KILL QUERY`` cancel over a side connection, the mapping of sturdydb's timeouts onto the
drivers' read/write timeouts and the TLS keywords (both take ``ssl_ca``, ``ssl_verify_cert``,
``ssl_verify_identity``, ``ssl_disabled``) are the same too. :class:`MysqlFamilyDialect` holds
them; each driver's module says only how its driver spells things.
"""

from __future__ import annotations

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

__all__ = ["MysqlFamilyDialect"]

# Failover starts only when the session is gone. The drivers' own client errors for a socket
# that is gone or never came up: 2001/2002 (Unix socket), 2003/2004 (TCP connect), 2005
# (unknown host), 2006 (server has gone away), 2012 (handshake), 2013 (lost connection during
# query), 2026 (TLS setup), 2055 (lost connection, system error).
CLIENT_NETWORK_ERRNOS = frozenset({2001, 2002, 2003, 2004, 2005, 2006, 2012, 2013, 2026, 2055})
# Server errors sent just before the server closes the session: 1053 server shutdown in
# progress, 1080 forcing close of thread, 1152/1184 aborted connection, 1158-1161 network
# read/write errors, 1927 connection killed (MariaDB, ``KILL <id>``). Every other server errno
# is an answer of a working server to a statement (1062 duplicate key, 1205 lock wait timeout,
# 1213 deadlock, 1969 max_statement_time, 1317 ``KILL QUERY``, SIGNAL with any errno...).
# 4031 is deliberately absent: MySQL 8 sends it for "disconnected because of inactivity", but
# on MariaDB it means "referenced trigger does not exist"; the message tells them apart.
SERVER_NETWORK_ERRNOS = frozenset({1053, 1080, 1152, 1158, 1159, 1160, 1161, 1184, 1927})
# The drivers' own messages (errno -1, none, or a client errno) when the socket is gone.
NETWORK_MESSAGES = (
    "mysql connection not available",
    "lost connection",
    "server has gone away",
    "connection refused",
    "connection reset",
    "broken pipe",
    "can't connect to",
)
READ_ONLY_ERRNOS = frozenset({1290, 1836})
LOGIN_ERRNOS = frozenset({1045, 1698})
QUERY_INTERRUPTED = 1317  # ER_QUERY_INTERRUPTED, the answer to KILL QUERY
SECRET_KEYS = ("password", "passwd", "password1", "password2", "password3")
_ISOLATION_LEVELS = ("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")


class MysqlFamilyDialect(DriverDialect):
    """The part of a MySQL-protocol driver dialect that does not depend on the driver's API.

    Subclasses set ``module`` and the keyword tables below, and implement :meth:`errno`,
    :meth:`connection_id` and the connection-state methods of :class:`DriverDialect`.
    """

    default_port: ClassVar[int] = 3306
    session_namespace: ClassVar[str] = "database"
    database_family: ClassVar[str] = "mysql"
    #: Keywords whose string values (from a connection string) the driver wants as int/bool.
    int_keywords: ClassVar[frozenset[str]] = frozenset()
    bool_keywords: ClassVar[frozenset[str]] = frozenset()
    #: The driver's keyword for the connect timeout in seconds, and other spellings of it.
    connect_timeout_keywords: ClassVar[tuple[str, ...]] = ("connect_timeout",)
    #: Key prefix of the driver's cached keyword sets in ``Properties._cache``.
    native_cache_tag: ClassVar[str] = "mysql_native"

    def errno(self, exc: BaseException) -> int | None:
        """The MySQL error number of the driver's exception ``exc`` (``None``: it has none)."""
        raise NotImplementedError

    def connection_id(self, conn: Any) -> int:
        """The server's id of ``conn``'s session (what ``KILL QUERY`` names)."""
        raise NotImplementedError

    def is_driver_network_error(self, exc: BaseException) -> bool:
        """The driver's own exceptions for a dead connection that carry no telling errno."""
        return False

    # -- errors -----------------------------------------------------------------
    def is_network_error(self, exc: BaseException) -> bool:
        if isinstance(exc, QueryTimeoutError):
            # A statement cancelled on a host that answered left the connection usable.
            return not exc.cancelled
        if isinstance(exc, (ConnectionError, TimeoutError, BrokenPipeError)):
            return True
        if self.is_driver_network_error(exc):
            return True
        if not isinstance(exc, self.module.Error):
            return False
        code = self.errno(exc)
        if code in CLIENT_NETWORK_ERRNOS or code in SERVER_NETWORK_ERRNOS:
            return True
        message = str(exc).lower()
        if code == 4031:
            return "disconnected by the server" in message
        if code is None or code < 0 or 2000 <= code < 3000:
            # Raised by the driver itself, never by the server: a server's message (a SIGNAL's
            # MESSAGE_TEXT can say anything) is never matched against these.
            return any(m in message for m in NETWORK_MESSAGES)
        return False

    def is_login_error(self, exc: BaseException) -> bool:
        return isinstance(exc, self.module.Error) and (
            getattr(exc, "sqlstate", None) == "28000" or self.errno(exc) in LOGIN_ERRNOS)

    def is_read_only_error(self, exc: BaseException) -> bool:
        if not isinstance(exc, self.module.Error):
            return False
        code = self.errno(exc)
        return code in READ_ONLY_ERRNOS and (code == 1836 or "read-only" in str(exc) or "read_only" in str(exc))

    def is_cancel_error(self, exc: BaseException) -> bool:
        return isinstance(exc, self.module.Error) and self.errno(exc) == QUERY_INTERRUPTED

    # -- connecting -------------------------------------------------------------
    def connect(
        self, target: Callable[..., Any], host: HostInfo, kwargs: dict[str, Any], props: Properties
    ) -> Any:
        kw = self._native_kwargs(kwargs, props)
        address = host.host
        port = host.port
        pin = resolve_host(host.host)
        if pin is not None:
            # Neither driver has a separate ``hostaddr``: the address replaces the name.
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
        a pool opens many connections with the same arguments. ``socket_timeout`` becomes the
        driver's ``read_timeout``/``write_timeout`` as a backstop that expires only after the
        core's watchdog had its chance to cancel the statement (``socket_timeout +
        auxiliary_query_timeout_sec + 1``): a native read timeout leaves the connection
        unusable, a cancel does not.
        """
        # Credentials change per connect with IAM tokens: they are neither part of the key nor
        # kept in the cache, so the cache stays small and holds no secret.
        secrets = {k: kwargs[k] for k in SECRET_KEYS if k in kwargs}
        key: tuple[Any, ...] | None = (
            self.native_cache_tag, tuple(item for item in kwargs.items() if item[0] not in secrets)
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
                if name in self.int_keywords and value.strip().lstrip("-").isdigit():
                    value = int(value)
                elif name in self.bool_keywords and value.strip().lower() in ("true", "false", "1", "0"):
                    value = value.strip().lower() in ("true", "1")
            kw[name] = value
        if "dbname" in kw:
            kw["database"] = kw.pop("dbname")
        timeout = props.get("connect_timeout")
        if timeout is not None and not any(k in kw for k in self.connect_timeout_keywords):
            kw[self.connect_timeout_keywords[0]] = max(1, round(float(timeout)))
        socket_timeout = props.get("socket_timeout")
        if socket_timeout:
            # Later than the watchdog's cancel (socket_timeout, then up to the auxiliary
            # timeout for the host to answer the cancel): see above.
            aux = props.get("auxiliary_query_timeout_sec")
            seconds = max(1, math.ceil(float(socket_timeout) + float(aux or 0) + 1))
            kw.setdefault("read_timeout", seconds)
            kw.setdefault("write_timeout", seconds)
        if key is not None:
            props._cache[key] = {k: v for k, v in kw.items() if k not in secrets}
        return kw

    # -- connection state -------------------------------------------------------
    def cancel_statement(self, conn: Any, timeout: float, open_auxiliary: Callable[[], Any]) -> bool:
        from sturdydb._watchdog import bounded

        try:
            connection_id = int(self.connection_id(conn))
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

    def read_session_state(self, conn: Any) -> SessionState:
        try:  # MySQL 8 and MariaDB 11.1+
            rows = self.query(conn, "SELECT DATABASE(), @@session.transaction_read_only, @@session.transaction_isolation")
        except self.module.DatabaseError:  # MariaDB before 11.1 only knows the tx_* names
            rows = self.query(conn, "SELECT DATABASE(), @@session.tx_read_only, @@session.tx_isolation")
        database, read_only, isolation = rows[0] if rows else (None, None, None)
        return SessionState(
            autocommit=bool(self.get_autocommit(conn)),
            read_only=bool(int(read_only)) if read_only is not None else None,
            isolation_level=isolation,
            database=database,
        )

    def apply_session_state(self, conn: Any, state: SessionState) -> None:
        if state.autocommit is not None:
            self.set_autocommit(conn, state.autocommit)
        if state.database is not None:
            self.set_database(conn, state.database)
        if state.read_only is not None:
            self.set_read_only(conn, state.read_only)
        if state.isolation_level is not None:
            self.set_isolation_level(conn, state.isolation_level)

    # Neither driver has read-only or isolation attributes: the session is changed with SQL,
    # and the getters (base class) answer what sturdydb last set.
    def set_read_only(self, conn: Any, value: bool | None) -> None:
        self.query(conn, self.read_only_statement(value))

    def set_isolation_level(self, conn: Any, value: Any) -> None:
        self.query(conn, self.isolation_statement(value))

    @staticmethod
    def read_only_statement(value: bool | None) -> str:
        return f"SET SESSION TRANSACTION {'READ ONLY' if value else 'READ WRITE'}"

    @staticmethod
    def isolation_statement(value: Any) -> str:
        level = str(value).replace("-", " ").replace("_", " ").upper()
        if level not in _ISOLATION_LEVELS:
            raise ValueError(f"unknown isolation level {value!r}; use one of {', '.join(_ISOLATION_LEVELS)}")
        return f"SET SESSION TRANSACTION ISOLATION LEVEL {level}"

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

    def query_rows(self, conn: Any, cur: Any, sql: str, params: Sequence[Any] | None) -> list[tuple[Any, ...]]:
        """Run ``sql`` on the buffered cursor ``cur`` and roll back a transaction it opened."""
        was_idle = not self.in_transaction(conn)
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
