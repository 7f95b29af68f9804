"""What psycopg 3 and psycopg2 share: both are libpq clients.

The rules that decide whether an error means the session is gone (SQLSTATE class 08, the
shutdown codes, libpq's own messages), the libpq keywords for timeouts, keepalives and a pinned
address, TLS (``sslmode``), the transaction status libpq reports and sturdydb's own queries are
the same for both drivers; only how each exposes them differs (``exc.sqlstate`` or
``exc.pgcode``, ``conn.pgconn.socket`` or ``conn.fileno()``...). :class:`LibpqDialect` holds
the shared part once, so a fix to the classification reaches both drivers.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb._addresses import resolve_host
from sturdydb._drivers.base import DriverDialect, SessionState
from sturdydb._errors import QueryTimeoutError

if TYPE_CHECKING:
    from sturdydb._hosts import HostInfo
    from sturdydb._properties import Properties

__all__ = ["LibpqDialect"]

# Failover starts only when the session is gone. From the server, that is the SQLSTATE class
# 08 (connection exception) and the shutdown codes 57P01 (admin shutdown, also what
# pg_terminate_backend sends), 57P02 (crash shutdown) and 57P03 (cannot connect now: starting
# up or shutting down). Every other SQLSTATE is an answer of a working server to a statement:
# 58P01 from pg_read_file, XX000 from a function, 53100 disk full, 53300 too many connections,
# 57014 statement timeout or cancel, F0000 configuration errors... The session survives those,
# and failing over on them would mark a healthy writer suspect and re-run nothing useful.
CONNECTION_CLASS = "08"
SHUTDOWN_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
# libpq's and the drivers' own messages when the socket is gone; these errors carry no SQLSTATE
# (the server sent nothing), so only errors without one are matched against them.
NETWORK_MESSAGES = (
    "connection failed",
    "consuming input failed",
    "connection socket closed",
    "the connection is closed",
    "the connection is lost",
    "server closed the connection",
    "sending query failed",
    "connection timeout expired",
    "no connection to the server",
    "terminating connection",
    "could not receive data",
    "could not send data",
    "lost synchronization with server",
    "ssl syscall error",
    "ssl connection has been closed unexpectedly",
    "eof detected",
)
# libpq sslmodes that may send everything in clear text.
PLAINTEXT_SSLMODES = frozenset({"disable", "allow", "prefer"})
LOGIN_MESSAGES = (
    "password authentication failed",
    "pam authentication failed",
    "no pg_hba.conf entry",
    "does not exist",  # role or database: a configuration problem, never a network one
)


class LibpqDialect(DriverDialect):
    """The part of a libpq-based driver dialect that does not depend on the driver's API.

    Subclasses set ``module``, ``_idle``/``_unknown`` (the driver's idle and unknown
    transaction status values) and ``_status_reader`` (a C-level attribute getter of the raw
    status), and implement :meth:`sqlstate`.
    """

    default_port: ClassVar[int] = 5432
    #: The DB-API calls that touch the network on every libpq driver (a driver adds its own).
    network_bound_methods: ClassVar[frozenset[str]] = frozenset({
        "Connection.commit",
        "Connection.rollback",
        "Connection.autocommit_setter",
        "Connection.isolation_level_setter",
        "Connection.read_only_setter",
        "Cursor.execute",
        "Cursor.executemany",
        "Cursor.callproc",
        # PEP 249's two-phase commit extension (psycopg and psycopg2 both have it).
        "Connection.tpc_begin",
        "Connection.tpc_prepare",
        "Connection.tpc_commit",
        "Connection.tpc_rollback",
        "Connection.tpc_recover",
    })
    # Additionally network-bound for server-side (named) cursors only.
    server_cursor_methods: ClassVar[frozenset[str]] = frozenset({
        "Cursor.fetchone", "Cursor.fetchmany", "Cursor.fetchall", "Cursor.__next__",
        "Cursor.scroll", "Cursor.close",
    })
    session_namespace: ClassVar[str] = "schema"
    database_family: ClassVar[str] = "pg"
    #: The driver's own messages for a dead connection, besides libpq's.
    extra_network_messages: ClassVar[tuple[str, ...]] = ()
    _idle: Any
    _unknown: Any
    _status_reader: Callable[[Any], Any]

    def sqlstate(self, exc: BaseException) -> str | None:
        """The SQLSTATE the server sent with ``exc`` (``None``: raised by the client)."""
        raise NotImplementedError

    def is_connect_timeout(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the driver's own connect-timeout class (psycopg has one)."""
        return False

    # -- errors -----------------------------------------------------------------
    def is_network_error(self, exc: BaseException) -> bool:
        if isinstance(exc, QueryTimeoutError):
            # A statement cancelled on a host that answered left the connection usable.
            return not exc.cancelled
        if self.is_connect_timeout(exc):
            return True
        module = self.module
        if not isinstance(exc, module.Error):
            return False
        state = self.sqlstate(exc)
        if state:
            return state.startswith(CONNECTION_CLASS) or state in SHUTDOWN_SQLSTATES
        if isinstance(exc, (module.OperationalError, module.InterfaceError)):
            message = str(exc).lower()
            if any(m in message for m in LOGIN_MESSAGES) or "authentication" in message:
                return False
            return any(m in message for m in NETWORK_MESSAGES) or any(
                m in message for m in self.extra_network_messages)
        return False

    def is_login_error(self, exc: BaseException) -> bool:
        if not isinstance(exc, self.module.Error):
            return False
        if self.sqlstate(exc) in ("28000", "28P01"):
            return True
        message = str(exc).lower()
        return any(m in message for m in LOGIN_MESSAGES[:3]) or (
            "role" in message and "does not exist" in message
        )

    def is_read_only_error(self, exc: BaseException) -> bool:
        if not isinstance(exc, self.module.Error):
            return False
        return self.sqlstate(exc) == "25006" or "read-only transaction" in str(exc).lower()

    def is_cancel_error(self, exc: BaseException) -> bool:
        return isinstance(exc, self.module.Error) and self.sqlstate(exc) == "57014"

    # -- connecting -------------------------------------------------------------
    def connect(
        self, target: Callable[..., Any], host: HostInfo, kwargs: dict[str, Any], props: Properties
    ) -> Any:
        return target(**libpq_keywords(host, kwargs, props))

    # -- transaction status -----------------------------------------------------
    def in_transaction(self, conn: Any) -> bool:
        status = conn.info.transaction_status
        return bool(status != self._idle and status != self._unknown)

    def transaction_status_reader(self) -> Callable[[Any], Any] | None:
        # libpq reports UNKNOWN once the connection broke, so failover reads the status
        # before every call: a C-level attribute chain, compared only if the call fails.
        return self._status_reader

    def in_transaction_before(self, conn: Any, status: Any) -> bool:
        if status == self._idle:
            return False
        if status == self._unknown:
            # Already broken before this call: whatever it had open is lost. Outside
            # autocommit a transaction may have been open; in autocommit none was (unless
            # the application sent BEGIN itself, which the call that broke it reported).
            return not conn.autocommit
        return True

    def autocommit_state(self, conn: Any) -> bool | None:
        return bool(conn.autocommit)  # a local attribute in both drivers

    def fetch_result_is_complete(self, cursor: Any) -> bool:
        # Client-side cursors fetch from memory. A server-side cursor outside a transaction
        # (the only case this answers: inside one, failover reports the transaction) is WITH
        # HOLD, whose result PostgreSQL materialised when its DECLARE committed; DECLARE also
        # refuses data-modifying statements. So fetching only reads what is already done.
        return True

    def apply_schema(self, conn: Any, schema: str) -> None:
        """Set the session's ``search_path`` to ``schema`` (failover carries it over)."""
        # The database itself is fixed per PostgreSQL connection (it is in the connect
        # properties); the schema search path is session state.
        # Not through query(): it rolls back the transaction it opened, and a rollback
        # also undoes a session-level set_config made inside it.
        was_idle = conn.info.transaction_status == self._idle
        with conn.cursor() as cur:
            cur.execute("SELECT pg_catalog.set_config('search_path', %s, false)", [schema])
        if was_idle and not conn.autocommit:
            conn.commit()

    def read_session_state(self, conn: Any) -> SessionState:
        rows = self.query(conn, "SELECT pg_catalog.current_database(), pg_catalog.current_setting('search_path')")
        database, schema = rows[0] if rows else (None, None)
        unset = SessionState()
        return SessionState(
            autocommit=bool(conn.autocommit),
            read_only=self.get_read_only(conn, unset),
            isolation_level=self.get_isolation_level(conn, unset),
            database=database,
            schema=schema,
        )

    def apply_session_state(self, conn: Any, state: SessionState) -> None:
        if state.autocommit is not None:
            conn.autocommit = state.autocommit
        if state.read_only is not None:
            self.set_read_only(conn, state.read_only)
        if state.isolation_level is not None:
            self.set_isolation_level(conn, state.isolation_level)
        if state.schema is not None:
            self.apply_schema(conn, state.schema)

    def require_tls(self, kwargs: dict[str, Any]) -> str | None:
        mode = kwargs.get("sslmode")
        if mode is None:
            kwargs["sslmode"] = "require"
            return None
        if str(mode).lower() in PLAINTEXT_SSLMODES:
            return f"sslmode={mode!r} may connect without TLS; use sslmode=require, verify-ca or verify-full"
        return None

    def verify_server_identity(self, kwargs: dict[str, Any], ca_bundle: str | None) -> str | None:
        if ca_bundle:
            kwargs.setdefault("sslrootcert", ca_bundle)
            if kwargs.get("sslmode") in (None, "require"):
                # require with a CA file given is libpq's verify-ca; the bundle asks for verification.
                kwargs["sslmode"] = "verify-full"
        mode = str(kwargs.get("sslmode") or "prefer").lower()
        if mode == "verify-full":
            return None
        if mode == "verify-ca":
            return "sslmode=verify-ca checks the certificate but not the host name"
        if mode in PLAINTEXT_SSLMODES:
            return f"sslmode={mode} may not even encrypt"
        return f"sslmode={mode} encrypts without checking the certificate"

    def query(self, conn: Any, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        was_idle = conn.info.transaction_status == self._idle
        with conn.cursor() as cur:
            try:
                cur.execute(sql, params)
                rows = cur.fetchall() if cur.description is not None else []
            except Exception:
                if was_idle and not conn.autocommit and not conn.closed:
                    try:
                        conn.rollback()
                    except Exception:
                        pass
                raise
        if was_idle and not conn.autocommit and conn.info.transaction_status != self._idle:
            conn.rollback()
        return [tuple(r) for r in rows]


def libpq_keywords(host: HostInfo, kwargs: dict[str, Any], props: Properties) -> dict[str, Any]:
    """The libpq connect keywords for ``host``: pinned address, timeouts and keepalives.

    Both drivers pass keyword arguments to libpq as they are, so one mapping serves both:
    ``connect_timeout`` in whole seconds (libpq rounds below 2 s up to 2 s), ``tcp_keepalive*``
    onto ``keepalives*``, ``socket_timeout`` onto ``tcp_user_timeout``, and a pinned host name
    as ``hostaddr`` so libpq never resolves it.
    """
    kw = dict(kwargs)
    database = kw.pop("database", None)
    if database is not None and "dbname" not in kw:
        kw["dbname"] = database
    kw["host"] = host.host
    port = host.port
    pin = resolve_host(host.host)
    if pin is not None:
        kw["hostaddr"] = pin.address
        if pin.port is not None:
            port = pin.port
    if port is not None:
        kw["port"] = port
    else:
        kw.pop("port", None)
    timeout = props.get("connect_timeout")
    if timeout is not None and "connect_timeout" not in kwargs:
        # libpq takes whole seconds and treats anything below 2 as 2.
        kw["connect_timeout"] = max(1, round(float(timeout)))
    if props.get("tcp_keepalive") is not None:
        kw["keepalives"] = 1 if props.get("tcp_keepalive") else 0
        for ours, libpq in (("tcp_keepalive_time", "keepalives_idle"),
                            ("tcp_keepalive_interval", "keepalives_interval"),
                            ("tcp_keepalive_probes", "keepalives_count")):
            if props.get(ours) is not None:
                kw[libpq] = props.get(ours)
    socket_timeout = props.get("socket_timeout")
    if socket_timeout and "tcp_user_timeout" not in kw:
        kw["tcp_user_timeout"] = int(float(socket_timeout) * 1000)
    return kw


def status_reader(path: str) -> Callable[[Any], Any]:
    """A C-level getter of the raw transaction status at ``path`` (see ``transaction_status_reader``)."""
    return operator.attrgetter(path)
