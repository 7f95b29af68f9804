"""Driver dialect for PyMySQL.

The MySQL protocol's error numbers, session SQL, ``KILL QUERY`` cancel and timeout mapping come
from :class:`MysqlFamilyDialect`; this module says how PyMySQL spells things. Its errors carry
the errno as ``args[0]``; a call on a closed connection raises ``InterfaceError(0, '')`` before
any I/O. ``autocommit`` is a method (``conn.autocommit(True)``), the current state
``get_autocommit()``, the database is switched with ``select_db``; the server's status flags
(``server_status``: in transaction, autocommit) are kept from the last reply, so they still
answer after the connection broke. The socket is ``conn._sock`` (a plain Python socket, so
abort always works); ``conn.open`` says whether it is still there.

Timeouts: ``connect_timeout`` and, from ``socket_timeout``, ``read_timeout``/``write_timeout``
as a late backstop behind the watchdog's cancel (see :mod:`sturdydb._drivers.mysql_family`).
Network-bound calls: the default cursors read the whole result in ``execute`` (fetches read
memory); ``SSCursor``/``SSDictCursor`` stream it, so there ``fetch*`` go to the server.
TLS: PyMySQL tries TLS when the server offers it and silently falls back otherwise, unless an
``ssl`` option is given; :meth:`PyMysqlDialect.require_tls` gives one, so a token is never sent
in clear text. A token as password: PyMySQL answers the server's ``mysql_clear_password``
switch request with the password as is, so nothing needs enabling.

Connect cost: when no TLS option is given at all, PyMySQL 2.2 builds a new default
``SSLContext`` for its "TLS if offered" mode on every connect (it loads the system CA store,
tens of milliseconds of CPU, even though that context verifies nothing and is unused when the
server offers no TLS). Failover connects several times in a row, so when the application
connects with PyMySQL's own ``Connection`` class, sturdydb uses a subclass that builds that one
option-less context once per process, with PyMySQL's own method, and reuses it. Any TLS
option (keywords or an option file) takes PyMySQL's own path unchanged, so TLS the
application asked for is never weakened or shared.

Transaction status: PyMySQL keeps ``server_status`` from OK packets only, and drops the status
flags of the EOF packet that ends a result set (and the column list). A transaction opened by
a ``SELECT`` with autocommit off (the server opens one as soon as the statement reads a
transactional table) is then invisible until the next OK packet, and sturdydb would switch
readers or report a clean failover inside it. Once connected, every PyMySQL
connection sturdydb opens (whatever made it: ``pymysql.connect``, an application's subclass, a
wrapper named with ``wrapper_driver_dialect``) is moved to a subclass of its own class (built
once per class, same name) whose packet reader also keeps the flags of each EOF packet, exactly
as the server sent them, whichever cursor read the result (an unbuffered ``SSCursor`` reads its
last EOF on the last fetch). Moving it after the handshake keeps the login exchange, whose
packets may also start with 0xFE, out of that reader. It costs about 0.1 µs per packet read,
i.e. per row. A class whose instances cannot change class (one with ``__slots__``) keeps
PyMySQL's OK-only status.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb._drivers.mysql_family import MysqlFamilyDialect
from sturdydb._properties import coerce_bool

if TYPE_CHECKING:
    from sturdydb._hosts import HostInfo
    from sturdydb._properties import Properties

__all__ = ["PyMysqlDialect"]

_SERVER_STATUS_IN_TRANS = 0x1
_SERVER_STATUS_AUTOCOMMIT = 0x2
_BOOL_KEYS = frozenset({"autocommit", "ssl_disabled", "ssl_verify_cert", "ssl_verify_identity",
                        "local_infile", "binary_prefix", "use_unicode", "defer_connect"})
_INT_KEYS = frozenset({"port", "connect_timeout", "read_timeout", "write_timeout", "client_flag",
                       "max_allowed_packet"})
_TLS_KEYS = ("ssl", "ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert", "ssl_verify_identity")


class _AutocommitSwitch:
    """``Connection.autocommit`` for PyMySQL: true or false like the attribute of the other
    drivers, and callable like PyMySQL's own method (``conn.autocommit(True)``)."""

    __slots__ = ("_set", "_value")

    def __init__(self, value: bool, set_value: Callable[[bool], None]) -> None:
        self._value = value
        self._set = set_value

    def __bool__(self) -> bool:
        return self._value

    def __eq__(self, other: object) -> bool:
        return bool(other) == self._value if isinstance(other, (bool, int, _AutocommitSwitch)) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __call__(self, value: bool) -> None:
        self._set(value)

    def __repr__(self) -> str:
        return repr(self._value)


def _shared_preferred_tls_class(base: type[Any]) -> type[Any]:
    """A subclass of PyMySQL's ``base`` connection class whose option-less TLS context (the
    "TLS if offered" one) is built once and shared; every other TLS setup is PyMySQL's own."""
    lock = threading.Lock()
    shared: list[Any] = []

    class SharedPreferredTlsConnection(base):  # type: ignore[misc]
        def _create_ssl_ctx(self, sslp: Any) -> Any:
            if not (isinstance(sslp, dict) and not sslp):
                return super()._create_ssl_ctx(sslp)
            # An SSLContext is safe to share between connections and threads; PyMySQL only
            # wraps sockets with it and never changes it after building it.
            with lock:
                if not shared:
                    shared.append(super()._create_ssl_ctx({}))
                return shared[0]

    SharedPreferredTlsConnection.__qualname__ = SharedPreferredTlsConnection.__name__ = base.__name__
    SharedPreferredTlsConnection.__module__ = base.__module__
    return SharedPreferredTlsConnection


#: Length of a protocol-4.1 EOF packet: the 0xFE marker, warning count and status flags (two
#: bytes each). Nothing else PyMySQL reads after the handshake has that shape: a row packet that
#: starts with 0xFE announces an eight-byte column length, so it is at least nine bytes long.
#: (A handshake PyMySQL repeats itself, ``ping(reconnect=True)``, also passes the reader: its
#: 0xFE packets, authentication switch requests, are one byte or name a plugin of more than
#: three letters.)
_EOF_PACKET_LENGTH = 5
_EOF_MARKER = 0xFE


def _eof_status_class(base: type[Any]) -> type[Any]:
    """A subclass of PyMySQL's ``base`` connection class that also keeps the server's status
    flags from EOF packets (PyMySQL keeps them only from OK packets)."""
    from pymysql.protocol import MysqlPacket

    read_packet = base._read_packet  # the base's own reader, an application's override included

    class EofStatusConnection(base):  # type: ignore[misc]
        _sturdydb_keeps_eof_status: ClassVar[bool] = True

        def _read_packet(self, packet_type: Any = MysqlPacket) -> Any:
            # Per packet (per row): one length check and no super() lookup keep this cheap.
            packet = read_packet(self, packet_type)
            data = packet._data
            if len(data) == _EOF_PACKET_LENGTH and data[0] == _EOF_MARKER:
                self.server_status = data[3] | data[4] << 8
            return packet

    EofStatusConnection.__qualname__ = EofStatusConnection.__name__ = base.__name__
    EofStatusConnection.__module__ = base.__module__
    return EofStatusConnection


#: PyMySQL's own default connect_timeout (seconds), used to bound the greeting when none is set.
_PYMYSQL_CONNECT_TIMEOUT = 10


class PyMysqlDialect(MysqlFamilyDialect):
    name: ClassVar[str] = "pymysql"
    int_keywords: ClassVar[frozenset[str]] = _INT_KEYS
    bool_keywords: ClassVar[frozenset[str]] = _BOOL_KEYS
    connect_timeout_keywords: ClassVar[tuple[str, ...]] = ("connect_timeout",)
    native_cache_tag: ClassVar[str] = "pymysql_native"
    network_bound_methods: ClassVar[frozenset[str]] = frozenset({
        "Connection.commit",
        "Connection.rollback",
        "Connection.autocommit_setter",
        "Connection.database_setter",
        "Connection.ping",
        "Cursor.execute",
        "Cursor.executemany",
        "Cursor.callproc",
        "Cursor.nextset",
    })
    # Additionally network-bound for the unbuffered cursors only.
    server_cursor_methods: ClassVar[frozenset[str]] = frozenset({
        "Cursor.fetchone", "Cursor.fetchmany", "Cursor.fetchall", "Cursor.__next__",
        "Cursor.scroll", "Cursor.close",
    })

    def __init__(self) -> None:
        import pymysql
        import pymysql.cursors

        self.module = pymysql
        self._err = pymysql.err
        self._unbuffered = pymysql.cursors.SSCursor
        self._names: frozenset[str] | None = None
        base = pymysql.connections.Connection
        # Versions without the method (or the per-connect context) keep their own class.
        self._fast_class: type[Any] | None = (
            _shared_preferred_tls_class(base) if callable(getattr(base, "_create_ssl_ctx", None)) else None)
        # The application's own connection classes (and subclasses of them), each built once.
        self._status_classes: dict[type[Any], type[Any]] = {}
        self._classes_lock = threading.Lock()

    # -- connecting -------------------------------------------------------------
    def connect(
        self, target: Callable[..., Any], host: HostInfo, kwargs: dict[str, Any], props: Properties
    ) -> Any:
        # PyMySQL bounds only the TCP connect by connect_timeout; it then reads the server's
        # greeting (and the login exchange) with read_timeout, which is None (forever) unless
        # set: a host that accepts the connection but says nothing (frozen, a silent proxy)
        # would hang the connect, and with it a cancel's side connection. The greeting gets
        # connect_timeout too; afterwards the connection's own read_timeout is restored.
        if self._fast_class is not None and target is self.module.connections.Connection:
            target = self._fast_class
        if "read_timeout" in kwargs:
            return self._keep_eof_status(super().connect(target, host, kwargs, props))
        steady = self._native_kwargs(kwargs, props).get("read_timeout")
        bound = props.get("connect_timeout") or kwargs.get("connect_timeout") or _PYMYSQL_CONNECT_TIMEOUT
        conn = super().connect(target, host, {**kwargs, "read_timeout": max(1.0, float(bound))}, props)
        conn._read_timeout = steady
        return self._keep_eof_status(conn)

    def _keep_eof_status(self, conn: Any) -> Any:
        """Move a freshly connected PyMySQL connection to its class's EOF-status subclass."""
        cls = type(conn)
        if getattr(cls, "_sturdydb_keeps_eof_status", False) or not isinstance(
                conn, self.module.connections.Connection):
            return conn
        with self._classes_lock:
            keeping = self._status_classes.get(cls)
            if keeping is None:
                keeping = self._status_classes[cls] = _eof_status_class(cls)
        try:
            conn.__class__ = keeping
        except TypeError:
            pass  # an instance layout that cannot change (``__slots__``): OK-packet status only
        return conn

    # -- errors (the errno rules are MysqlFamilyDialect's) --------------------------
    def errno(self, exc: BaseException) -> int | None:
        args = getattr(exc, "args", ())
        return args[0] if args and isinstance(args[0], int) else None

    def is_driver_network_error(self, exc: BaseException) -> bool:
        # InterfaceError(0, '') is what PyMySQL raises for any call once its socket is gone.
        return self.is_unsent_error(exc)

    def is_unsent_error(self, exc: BaseException) -> bool:
        # Raised by _execute_command when the connection has no socket any more (closed, or
        # dropped by PyMySQL after a network error), before anything is written.
        return isinstance(exc, self._err.InterfaceError) and tuple(exc.args) == (0, "")

    # -- connecting -------------------------------------------------------------
    def property_names(self) -> frozenset[str]:
        if self._names is None:
            signature = inspect.signature(self.module.connections.Connection.__init__)
            self._names = frozenset(p for p in signature.parameters if p != "self")
        return self._names

    # -- connection state -------------------------------------------------------
    def socket_fd(self, conn: Any) -> int | None:
        sock = getattr(conn, "_sock", None)
        if sock is None:
            return None
        try:
            fd = int(sock.fileno())
        except Exception:
            return None
        return fd if fd >= 0 else None

    def is_closed(self, conn: Any) -> bool:
        return not conn.open

    def close_again(self, conn: Any) -> None:
        conn.close()  # PyMySQL raises Error("Already closed"), as PEP 249 asks

    def in_transaction(self, conn: Any) -> bool:
        return bool(getattr(conn, "server_status", 0) & _SERVER_STATUS_IN_TRANS)

    def autocommit_state(self, conn: Any) -> bool | None:
        # The server's last status flags: they also reflect ``SET autocommit`` sent as SQL.
        status = getattr(conn, "server_status", None)
        return bool(status & _SERVER_STATUS_AUTOCOMMIT) if isinstance(status, int) else None

    def get_autocommit(self, conn: Any, set_value: Callable[[bool], None] | None = None) -> Any:
        if set_value is None:
            return bool(conn.get_autocommit())
        return _AutocommitSwitch(bool(conn.get_autocommit()), set_value)

    def set_autocommit(self, conn: Any, value: bool) -> None:
        conn.autocommit(bool(value))

    def get_database(self, conn: Any) -> Any:
        db = getattr(conn, "db", None)
        return db.decode() if isinstance(db, bytes) else db

    def set_database(self, conn: Any, value: str) -> None:
        conn.select_db(value)
        # select_db does not update the attribute: keep it current for get_database.
        conn.db = value.encode() if isinstance(value, str) else value

    def connection_id(self, conn: Any) -> int:
        return int(conn.thread_id())

    def cursor_statement(self, cursor: Any) -> Any:
        return getattr(cursor, "_executed", None)

    def cursor_is_server_side(self, cursor: Any) -> bool:
        return isinstance(cursor, self._unbuffered)

    def fetch_result_is_complete(self, cursor: Any) -> bool:
        # The default cursors hold the whole result; an unbuffered one streams rows while the
        # statement may still be running.
        return not isinstance(cursor, self._unbuffered)

    def probe(self, conn: Any) -> None:
        conn.ping(reconnect=False)

    def require_tls(self, kwargs: dict[str, Any]) -> str | None:
        if coerce_bool("ssl_disabled", kwargs.get("ssl_disabled") or False):
            return "ssl_disabled=true connects without TLS; remove it"
        if not any(kwargs.get(k) for k in _TLS_KEYS):
            # Any ssl option turns PyMySQL's "TLS if offered" into "TLS or fail". This one
            # encrypts without checking the certificate (verify_server_identity adds that).
            kwargs["ssl"] = {"check_hostname": False}
        return None

    def query(self, conn: Any, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        # The base Cursor class: buffered and tuple rows, whatever cursorclass the
        # application chose for its own cursors.
        return self.query_rows(conn, conn.cursor(self.module.cursors.Cursor), sql, params)
