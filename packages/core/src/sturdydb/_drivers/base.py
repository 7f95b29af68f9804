"""The driver dialect interface: what sturdydb needs to know about one DB-API driver.

A driver dialect opens connections with the driver's native options (timeouts, keepalives,
pinned addresses), says which DB-API methods can touch the network, classifies the driver's
exceptions, reads and applies session state, runs sturdydb's own small queries, and can abort
a connection from another thread so that a call blocked on it returns at once. It never runs
a driver call on a helper thread.
"""

from __future__ import annotations

import os
import socket
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from sturdydb._hosts import HostInfo
    from sturdydb._properties import Properties

__all__ = ["DriverDialect", "SessionState", "SocketIdentity", "shutdown_fd", "socket_identity"]


@dataclass
class SessionState:
    """Session settings the application changed through sturdydb (``None``: never set)."""

    autocommit: bool | None = None
    read_only: bool | None = None
    isolation_level: Any = None
    database: str | None = None
    schema: str | None = None

    def changed(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


#: What identifies one socket: (local address, peer address, inode of the socket).
SocketIdentity = tuple[Any, Any, int]


def _identity_of(sock: socket.socket) -> SocketIdentity:
    # The addresses alone do not tell Unix-domain sockets apart: a client's local name is
    # usually '' and every connection to a server has the same peer path. The socket's inode
    # (st_ino of the descriptor) is unique among open sockets, for TCP and Unix alike, and is
    # the same through any duplicate of the descriptor.
    return sock.getsockname(), sock.getpeername(), os.fstat(sock.fileno()).st_ino


def socket_identity(fd: int) -> SocketIdentity | None:
    """``(local address, peer address, socket inode)`` of the socket behind ``fd``, or ``None``."""
    try:
        # A socket object over the driver's own descriptor, detached afterwards so that it is
        # never closed here: three system calls, no dup/close (this runs on every connect).
        sock = socket.socket(fileno=fd)
    except OSError:
        return None
    try:
        return _identity_of(sock)
    except OSError:
        return None
    finally:
        sock.detach()


def shutdown_fd(fd: int, identity: SocketIdentity | None = None) -> bool:
    """Shut a connected socket down in both directions, given any descriptor of it.

    ``shutdown`` acts on the socket, not on the descriptor, so shutting down a duplicate makes
    every blocked ``recv``/``send`` on the original return at once (with EOF or EPIPE), while
    the driver still owns and later closes its own descriptor: no use-after-free.

    With ``identity`` (recorded when the connection was opened), the socket is shut down only
    if it is still that one: between reading a connection's descriptor and shutting it down,
    another thread may close the connection and a new socket may reuse the number. Returns
    whether the socket was shut down.
    """
    try:
        dup = os.dup(fd)
    except OSError:
        return False
    sock = socket.socket(fileno=dup)
    try:
        if identity is not None:
            try:
                if _identity_of(sock) != identity:
                    return False  # the descriptor now belongs to another socket
            except OSError:
                return False
        sock.shutdown(socket.SHUT_RDWR)
        return True
    except OSError:
        return True  # already shut down or reset: the goal is reached
    finally:
        sock.close()


class DriverDialect:
    """Base class of driver dialects. Subclasses implement everything that raises."""

    name: ClassVar[str] = "generic"
    #: The database family the driver speaks to: ``"pg"`` or ``"mysql"`` (database dialects).
    database_family: ClassVar[str] = ""
    #: Whether the driver's ``with connection:`` commits on success and rolls back on error
    #: before closing (psycopg) rather than only closing (mysql-connector).
    context_exit_ends_transaction: ClassVar[bool] = False
    #: Whether the driver's ``with connection:`` closes the connection at the end (psycopg 3,
    #: mysql-connector) or leaves it open (psycopg2).
    context_exit_closes: ClassVar[bool] = True
    #: Whether plugins can work on this driver (not for the pass-through dialect).
    supports_plugins: ClassVar[bool] = True
    #: Whether ``with connection:`` is left to the driver's own ``__exit__`` (pass-through).
    context_exit_delegates: ClassVar[bool] = False
    #: Whether every property nobody declares goes to the driver without a warning (the
    #: pass-through dialect: sturdydb cannot know the driver's keywords; the driver judges).
    accepts_any_property: ClassVar[bool] = False
    #: Appended to the warning that a connection's socket cannot be aborted (how to fix it).
    abort_unsupported_hint: ClassVar[str] = ""
    module: ModuleType
    #: Methods that may wait on the network; plugins such as failover wrap only these.
    network_bound_methods: ClassVar[frozenset[str]] = frozenset()
    default_port: ClassVar[int] = 0
    #: Whether :meth:`cursor_is_server_side` depends only on the cursor's class (true for
    #: every driver but psycopg2, whose named cursors are of the same class): the answer
    #: is then remembered per class, off the per-cursor path.
    server_side_by_class: ClassVar[bool] = True
    #: What the application switches with a statement rather than an attribute and failover
    #: must carry over: ``"schema"`` (PostgreSQL ``SET search_path``) or ``"database"``
    #: (MySQL ``USE``).
    session_namespace: ClassVar[str] = ""

    @property
    def auxiliary_driver(self) -> str:
        """The driver of the auxiliary connections this dialect opens (monitoring, topology).

        The dialect's own name, except for async dialects, whose auxiliary connections are
        the sibling sync driver's: monitors keyed by it serve sync and async connections alike.
        """
        return self.name

    @property
    def _identities(self) -> weakref.WeakKeyDictionary[Any, SocketIdentity]:
        found: weakref.WeakKeyDictionary[Any, SocketIdentity] | None = self.__dict__.get("_socket_ids")
        if found is None:
            found = self.__dict__.setdefault("_socket_ids", weakref.WeakKeyDictionary())
        return found


    # -- errors -----------------------------------------------------------------
    @property
    def operational_error(self) -> type[BaseException]:
        return self.module.OperationalError  # type: ignore[no-any-return]

    def is_network_error(self, exc: BaseException) -> bool:
        raise NotImplementedError

    def is_login_error(self, exc: BaseException) -> bool:
        raise NotImplementedError

    def is_read_only_error(self, exc: BaseException) -> bool:
        raise NotImplementedError

    def is_unsent_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` proves the failed call sent nothing to the server.

        True only for errors the driver raises *before* writing to the socket, for example
        because it already knew the connection was dead. Used by failover to tell the
        application that a statement was certainly not applied.
        """
        return False

    def is_closed_connection_error(self, exc: BaseException, conn: Any) -> bool:
        """Whether ``exc`` is the driver refusing a call before any I/O because ``conn`` was
        already closed or broken, in a form that the exception alone does not prove.

        psycopg2 gives a cursor of a closed connection the same "cursor already closed" error
        as a cursor the application closed itself; only the connection's state tells them
        apart. Failover treats a True answer as a lost connection and an unsent call. Called
        on the error path only.
        """
        return False

    def is_cancel_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the server's answer to a cancelled statement."""
        return False

    # -- connecting -------------------------------------------------------------
    def property_names(self) -> frozenset[str]:
        """Every keyword the driver's connect accepts (for unknown-property warnings)."""
        return frozenset()

    def connect(
        self, target: Callable[..., Any], host: HostInfo, kwargs: dict[str, Any], props: Properties
    ) -> Any:
        raise NotImplementedError

    # -- connection state -------------------------------------------------------
    def socket_fd(self, conn: Any) -> int | None:
        raise NotImplementedError

    def remember_socket(self, conn: Any) -> None:
        """Record the identity of ``conn``'s socket right after connecting (see abort)."""
        try:
            fd = self.socket_fd(conn)
        except Exception:
            return
        if fd is None or fd < 0:
            return
        identity = socket_identity(fd)
        if identity is not None:
            try:
                self._identities[conn] = identity
            except TypeError:  # the driver's connection class has no weak references
                pass

    def abort_connection(self, conn: Any) -> None:
        """Make any call blocked on ``conn`` return at once with a network error.

        Safe to call from any thread, any number of times, on a closed connection too. A
        socket whose identity no longer matches the one recorded at connect is left alone.
        """
        try:
            fd = self.socket_fd(conn)
        except Exception:
            return
        if fd is not None and fd >= 0:
            try:
                identity = self._identities.get(conn)
            except TypeError:
                identity = None
            shutdown_fd(fd, identity)

    def is_closed(self, conn: Any) -> bool:
        raise NotImplementedError

    def in_transaction(self, conn: Any) -> bool:
        raise NotImplementedError

    def transaction_status_reader(self) -> Callable[[Any], Any] | None:
        """A cheap reader of the raw transaction status, for drivers that forget it.

        ``None`` (the default) when :meth:`in_transaction` still answers correctly after the
        connection broke (mysql-connector keeps the server's last status). Otherwise failover
        calls the returned function before each call (the hot path: it must be a C-level
        attribute read, no round trip) and, only when the call failed, interprets the value
        with :meth:`in_transaction_before`.
        """
        return None

    def in_transaction_before(self, conn: Any, status: Any) -> bool:
        """Whether a transaction was open, given ``status`` read before the failed call."""
        return self.in_transaction(conn)

    def get_autocommit(self, conn: Any, set_value: Callable[[bool], None] | None = None) -> Any:
        """``Connection.autocommit`` as the driver spells it (an attribute in most drivers).

        ``set_value`` switches autocommit through sturdydb (the plugins see it), for drivers
        where the value read is also the method that switches it (PyMySQL).
        """
        return bool(conn.autocommit)

    def set_autocommit(self, conn: Any, value: bool) -> None:
        """Switch autocommit the driver's way (``Connection.autocommit = value``)."""
        conn.autocommit = value

    def get_database(self, conn: Any) -> Any:
        """``Connection.database``: the current database where the driver tracks it."""
        return conn.database

    def set_database(self, conn: Any, value: str) -> None:
        """Make ``value`` the current database (MySQL ``USE``), the driver's way."""
        conn.database = value

    def autocommit_state(self, conn: Any) -> bool | None:
        """Whether ``conn`` is in autocommit mode, from what the driver already knows (no I/O).

        ``None`` when the driver cannot tell without a round trip.
        """
        return None

    def cancel_statement(self, conn: Any, timeout: float, open_auxiliary: Callable[[], Any]) -> bool:
        """Ask the server to cancel the statement running on ``conn`` (from another thread).

        Returns whether the server acknowledged the request within about ``timeout`` seconds.
        ``open_auxiliary`` opens a separate connection to the same host, for drivers whose
        cancel is an SQL statement. Never raises; ``False`` means "the host did not answer".
        """
        return False

    def fetch_result_is_complete(self, cursor: Any) -> bool:
        """Whether a fetch on ``cursor`` reads a result whose statement already finished.

        True when the statement's whole effect is done before the first fetch (a PostgreSQL
        cursor, declared by a statement that completed), so an interrupted fetch changed
        nothing. False when rows stream while the statement still runs (mysql-connector's
        unbuffered cursors).
        """
        return False

    def cursor_statement(self, cursor: Any) -> Any:
        """The statement text whose result ``cursor`` holds, or ``None`` when unknown."""
        return None

    def close_again(self, conn: Any) -> None:
        """The application closed a connection that is already closed: do what the driver does.

        psycopg and mysql-connector ignore it (the default); PyMySQL raises.
        """

    def close_quietly(self, conn: Any) -> None:
        try:
            conn.close()
        except Exception:
            pass

    def read_session_state(self, conn: Any) -> SessionState:
        """The connection's current session settings (one round trip at most)."""
        raise NotImplementedError

    def apply_session_state(self, conn: Any, state: SessionState) -> None:
        """Set every field of ``state`` that is not ``None`` on ``conn``."""
        raise NotImplementedError

    def set_read_only(self, conn: Any, value: bool | None) -> None:
        """Make ``conn``'s following transactions read-only or not (``apply_session_state`` uses it)."""
        raise NotImplementedError

    def set_isolation_level(self, conn: Any, value: Any) -> None:
        """Set ``conn``'s isolation level for its following transactions."""
        raise NotImplementedError

    def get_read_only(self, conn: Any, session: SessionState) -> Any:
        """``Connection.read_only``: the driver's own attribute where it has one, else what
        sturdydb last set (``session``)."""
        return session.read_only

    def get_isolation_level(self, conn: Any, session: SessionState) -> Any:
        """``Connection.isolation_level``, like :meth:`get_read_only`."""
        return session.isolation_level

    def probe(self, conn: Any) -> None:
        """One ``SELECT 1`` round trip on ``conn`` (health checks); raises if it fails."""
        cur = conn.cursor()
        try:
            cur.execute("SELECT 1")
            cur.fetchall()
        finally:
            try:
                cur.close()
            except Exception:
                pass

    def require_tls(self, kwargs: dict[str, Any]) -> str | None:
        """Make the connect keywords ``kwargs`` demand TLS (before a token goes out as password).

        Returns ``None`` when the connection will be encrypted, or what in ``kwargs`` allows
        plain text and how to fix it (the caller raises with its own opt-out named).
        """
        raise NotImplementedError

    def verify_server_identity(self, kwargs: dict[str, Any], ca_bundle: str | None) -> str | None:
        """Make ``kwargs`` verify the server's certificate and host name when ``ca_bundle`` is given.

        Returns ``None`` when the connection will verify both (a token sent over it cannot be
        captured by an impersonator), otherwise what is not verified, in words for a warning.
        An explicit, weaker choice in ``kwargs`` is kept (and reported).
        """
        raise NotImplementedError

    def enable_clear_text_password(self, kwargs: dict[str, Any]) -> None:
        """Set what the driver needs to send the password as is (an IAM or federated token).

        Most drivers send it as given; mysql-connector needs ``mysql_clear_password``.
        """

    def query(self, conn: Any, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one of sturdydb's own queries and return all rows.

        The application's transaction status is preserved: when the query had to open a
        transaction on a connection that was idle, that transaction is rolled back (never
        committed: nothing of the application's can be in it).
        """
        raise NotImplementedError

    def cursor_is_server_side(self, cursor: Any) -> bool:
        """Whether fetches on ``cursor`` go to the server (so fetch* is network-bound)."""
        return True

    #: Whether a client-side cursor's result can still be fetched once its connection closed
    #: (after a failover replaced it). psycopg, mysql-connector's buffered cursors and PyMySQL
    #: keep the rows in Python; psycopg2 refuses any use of a cursor of a closed connection.
    results_outlive_connection: ClassVar[bool] = True

    def set_keepalive(self, conn: Any, props: Properties) -> None:
        """Apply ``tcp_keepalive*`` to the connection's socket when the driver has no option."""
        if not props.get("tcp_keepalive"):
            return
        fd = self.socket_fd(conn)
        if fd is None:
            return
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for opt, name in (
                (getattr(socket, "TCP_KEEPIDLE", None), "tcp_keepalive_time"),
                (getattr(socket, "TCP_KEEPINTVL", None), "tcp_keepalive_interval"),
                (getattr(socket, "TCP_KEEPCNT", None), "tcp_keepalive_probes"),
            ):
                value = props.get(name)
                if opt is not None and value is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, opt, int(value))
        finally:
            sock.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
