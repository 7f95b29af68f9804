"""Per-connection state shared by the wrapper classes and the plugins.

A :class:`ConnectionContext` is created by ``sturdydb.connect`` for each application connection.
It holds the properties, the driver and database dialects, the current physical connection
(which failover may replace), the session state the application set, and one slot per plugin
(``plugin_state[code]``) because plugin objects are shared between connections.
:class:`ConnectRequest` and :class:`Call` are the small objects passed down the connect and
execute chains.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from sturdydb import _dialects
from sturdydb._drivers.base import SessionState
from sturdydb._errors import E, QueryTimeoutError, make_error
from sturdydb._hosts import HostInfo, HostRole, parse_rds_host
from sturdydb._topology import ClusterTopology, derive_cluster_id, registry
from sturdydb._watchdog import watchdog

if TYPE_CHECKING:
    # asyncio only names the loop's type here: importing it costs a sync MySQL application
    # about 9 ms at `import sturdydb` (psycopg imports it anyway, mysql-connector does not).
    import asyncio
    from collections.abc import Callable, Iterable, Mapping

    from sturdydb._dialects.base import DatabaseDialect
    from sturdydb._discovery import PluginCatalog
    from sturdydb._drivers.base import DriverDialect
    from sturdydb._pipeline import AsyncChainFn, ChainFn, Pipeline
    from sturdydb._plugin import Plugin
    from sturdydb._properties import Properties

__all__ = ["Call", "ConnectRequest", "ConnectionContext"]

log = logging.getLogger("sturdydb.connection")


#: The cursor methods whose chains :meth:`ConnectionContext.cursor_chains` returns, in order.
CURSOR_METHODS = ("Cursor.execute", "Cursor.executemany", "Cursor.fetchone", "Cursor.fetchmany",
                  "Cursor.fetchall", "Cursor.__next__", "Cursor.close")
_FETCHONE, _FETCHALL = CURSOR_METHODS.index("Cursor.fetchone"), CURSOR_METHODS.index("Cursor.fetchall")
#: What :meth:`ConnectionContext.cursor_chains` answers for a kind of cursor: server-side,
#: the chains of :data:`CURSOR_METHODS`, in-memory (the fast kind).
CursorKind = tuple[bool, tuple["ChainFn | None", ...], bool]


class ConnectRequest:
    """One physical connect going down the ``sturdydb_connect`` chain.

    ``purpose`` is ``"connect"`` for the application's own connection, ``"reconnect"`` for a
    replacement opened by failover, and ``"auxiliary"`` for monitoring/topology connections
    (plugins such as failover let those pass untouched). ``driver_kwargs`` is what the driver
    will receive; auth plugins set ``user``/``password`` there.
    """

    __slots__ = ("context", "driver_kwargs", "host", "props", "purpose", "target")

    def __init__(
        self,
        context: ConnectionContext,
        host: HostInfo,
        props: Properties,
        driver_kwargs: dict[str, Any],
        purpose: str = "connect",
    ) -> None:
        self.context = context
        self.host = host
        self.props = props
        self.driver_kwargs = driver_kwargs
        self.purpose = purpose
        #: The connect function the terminal calls: the application's, or for an auxiliary
        #: connection of an async connection the sibling sync driver's.
        self.target = context.auxiliary_connect if purpose == "auxiliary" else context.target_connect

    def __repr__(self) -> str:
        return f"<ConnectRequest {self.purpose} {self.host.url}>"


class Call:
    """One DB-API call going down the ``sturdydb_execute`` chain."""

    # The hot paths of sturdydb._connection build a Call field by field without __init__
    # (``_new_call``); a new slot must be set there too (tests/test_execute_around.py checks).
    __slots__ = ("args", "context", "func", "kwargs", "method", "target")

    def __init__(
        self,
        context: ConnectionContext,
        method: str,
        target: Any,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.context = context
        self.method = method
        self.target = target
        self.func = func
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"<Call {self.method}>"


class ConnectionContext:
    """Everything sturdydb knows about one application connection."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        driver: DriverDialect,
        props: Properties,
        target_connect: Callable[..., Any],
        hosts: list[HostInfo],
        catalog: PluginCatalog,
    ) -> None:
        self.pipeline = pipeline
        self.driver = driver
        self.props = props
        self.target_connect = target_connect
        #: For async connections (``connect_async``): the event loop the connection belongs to,
        #: and the sync connect function that auxiliary connections (monitor threads) use.
        self.loop: asyncio.AbstractEventLoop | None = None
        self.auxiliary_connect: Callable[..., Any] = target_connect
        self.hosts = list(hosts)
        self.catalog = catalog
        self.initial_host = hosts[0]
        self.host = hosts[0]
        self.connection: Any = None
        #: Bumped whenever the physical connection is replaced; cursors compare it to rebind.
        self.generation = 0
        self.plugin_state: dict[str, Any] = {}
        self.session = SessionState()
        #: The role the application's current work needs, when a plugin decided it (read/write
        #: splitting sets READER while ``read_only`` is true and WRITER otherwise); ``None``:
        #: no plugin decided, the failover mode alone says what replaces a failed connection.
        self.wanted_role: HostRole | None = None
        self.closed = False
        #: A plugin's restriction of the instances this connection may use (the
        #: ``custom_endpoint`` plugin sets it to "is a member"): connect-time routing, failover
        #: and reader selection consider only hosts it accepts. ``None``: every host.
        self.allowed_hosts: Callable[[HostInfo], bool] | None = None
        self._dialect: DatabaseDialect | None = None
        self._chains: dict[tuple[str, bool], ChainFn | None] = {}
        self._async_chains: dict[tuple[str, bool], AsyncChainFn | None] = {}
        self._cursor_chains: dict[bool, CursorKind] = {}
        #: cursor class -> :meth:`cursor_chains`'s answer, when the driver decides by class.
        self.cursor_kinds: dict[type, CursorKind] = {}
        self._lock = threading.RLock()
        code = props.get("wrapper_dialect")
        if code:
            self._dialect = _dialects.dialect_by_code(code)

    # -- chains -----------------------------------------------------------------
    def chain(self, method: str, server_side: bool = False) -> ChainFn | None:
        """The execute chain for ``method`` (``None``: call the driver directly)."""
        key = (method, server_side)
        try:
            return self._chains[key]
        except KeyError:
            pass
        found = self.pipeline.chain(method, self._network_bound(method, server_side))
        self._chains[key] = found
        return found

    def async_chain(self, method: str, server_side: bool = False) -> AsyncChainFn | None:
        """The async execute chain for ``method`` (``None``: await the driver directly)."""
        key = (method, server_side)
        try:
            return self._async_chains[key]
        except KeyError:
            pass
        found = self.pipeline.async_chain(method, self._network_bound(method, server_side))
        self._async_chains[key] = found
        return found

    def _network_bound(self, method: str, server_side: bool) -> bool:
        driver = self.driver
        return method in driver.network_bound_methods or (
            server_side and method in getattr(driver, "server_cursor_methods", ())
        )

    def cursor_chains(self, raw_cursor: Any) -> CursorKind:
        """Whether ``raw_cursor`` is server-side, its chains for :data:`CURSOR_METHODS`, and
        whether it is an in-memory cursor (:class:`sturdydb.Cursor`'s fast kind: a
        client-side result that outlives its connection, fetched with no plugin around it).

        An ORM opens a cursor for nearly every statement, so the answer is looked up once per
        connection and kind of cursor, not per cursor: :class:`sturdydb.Cursor` first reads
        :attr:`cursor_kinds` by the cursor's class (filled here when the driver decides by
        class) and calls this only on a miss.
        """
        driver = self.driver
        server_side = driver.cursor_is_server_side(raw_cursor)
        found = self._cursor_chains.get(server_side)
        if found is None:
            chains = tuple(self.chain(m, server_side) for m in CURSOR_METHODS)
            in_memory = (not server_side and driver.results_outlive_connection
                         and chains[_FETCHONE] is None and chains[_FETCHALL] is None)
            found = self._cursor_chains[server_side] = (server_side, chains, in_memory)
        if driver.server_side_by_class:
            self.cursor_kinds[type(raw_cursor)] = found
        return found

    # -- connecting -------------------------------------------------------------
    def driver_kwargs(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        kwargs = self.props.driver_kwargs()
        kwargs.pop("host", None)
        kwargs.pop("port", None)
        if overrides:
            kwargs.update(overrides)
        return kwargs

    def open(
        self,
        host: HostInfo | None = None,
        *,
        purpose: str = "reconnect",
        overrides: dict[str, Any] | None = None,
        skip: Plugin | None = None,
        props: Properties | None = None,
    ) -> Any:
        """Open a new physical connection to ``host`` through the plugin chain.

        ``overrides`` replace driver keywords (a monitoring connection's timeouts);
        ``skip`` leaves one plugin out (the plugin that is calling). The new connection is
        returned, not installed: see :meth:`set_connection`.
        """
        target = host or self.host
        request = ConnectRequest(self, target, props or self.props, self.driver_kwargs(overrides), purpose)
        if skip is not None:
            return self.pipeline.connect_without(skip, request)
        return self.pipeline.connect(request)

    def open_auxiliary(self, host: HostInfo, extra: Mapping[str, Any], connect_timeout: float) -> Any:
        """An autocommit side connection to ``host`` for a plugin's own probes (through the chain).

        ``extra`` are the properties of that side connection only, their prefix removed
        (``monitoring-connect_timeout=2`` as ``{"connect_timeout": 2}``): sturdydb properties
        override the application's through a copy of the properties, anything else is a driver
        keyword. ``connect_timeout`` applies unless ``extra`` sets one. ``purpose="auxiliary"``:
        auth plugins run, failover lets it pass.
        """
        registry = self.props.registry
        known: dict[str, Any] = {}
        overrides: dict[str, Any] = {"autocommit": True}
        for name, value in extra.items():
            spec = registry.get(name)
            if spec is None:
                overrides[name] = value
                continue
            known[name] = value
            if spec.passthrough:
                overrides[name] = spec.coerce(value)
        if known.get("connect_timeout") is None:
            known["connect_timeout"] = connect_timeout
        return self.open(host, purpose="auxiliary", overrides=overrides, props=self.props.copy(**known))

    def usable_hosts(self, hosts: Iterable[HostInfo]) -> list[HostInfo]:
        """``hosts`` without those :attr:`allowed_hosts` refuses (all of them when unset)."""
        allowed = self.allowed_hosts
        return list(hosts) if allowed is None else [h for h in hosts if allowed(h)]

    def set_connection(self, new: Any, host: HostInfo, *, keep_old: bool = False, carry_session: bool = True) -> None:
        """Make ``new`` (connected to ``host``) this context's connection.

        Carries over the session state the application set, rolls back and closes the old
        connection (best effort: it is usually dead), bumps ``generation`` so cursors rebind,
        and broadcasts ``sturdydb_connection_changed``.

        ``keep_old``: the old connection is alive and the caller keeps it (read/write
        splitting caches or pools it), so it is neither rolled back nor closed.
        ``carry_session=False``: the caller already brought ``new`` to the session state
        (it applies only what differs, to keep a switch free of round trips).
        """
        with self._lock:
            if self.closed:
                # The application closed the connection meanwhile (an async task cancelled
                # while its failover ran off-loop): never resurrect it.
                self.driver.close_quietly(new)
                return
            old = self.connection
            if carry_session and self.props.get("transfer_session_state_on_switch", True):
                self.driver.apply_session_state(new, self.session)
            self.connection = new
            self.host = host
            self.generation += 1
        if old is not None and old is not new and not keep_old:
            if self.props.get("rollback_on_switch", True) and self.loop is None:
                # (An async connection is only closed: closing ends its transaction too.)
                try:
                    if not self.driver.is_closed(old) and self.driver.in_transaction(old):
                        old.rollback()
                except Exception:
                    pass
            in_background = getattr(self.driver, "close_in_background", None) if self.loop is not None else None
            if in_background is not None:
                in_background(old)  # the waiting task needs the new connection, not this close
            else:
                self.driver.close_quietly(old)
        try:
            self.pipeline.hook.sturdydb_connection_changed(
                context=self, old=old, new=new, kept=bool(keep_old and old is not None and old is not new))
        except Exception:
            log.exception("a sturdydb_connection_changed implementation raised")

    def report_credentials(self, host: HostInfo, source: str, cached: bool, seconds: float = 0.0) -> None:
        """Tell this chain's plugins that an auth plugin obtained a credential for ``host``.

        Auth plugins call it from their ``sturdydb_connect`` wrapper; the core broadcasts
        ``sturdydb_credentials_obtained`` to this context's chain (observability plugins count
        cache hits and time fetches). Never pass the credential: only where it came from.
        An implementation that raises is logged, never propagated into the connect.
        """
        if not self.pipeline.receives_credentials:
            return  # a cached connect stays one dict lookup when nobody listens
        try:
            self.pipeline.hook.sturdydb_credentials_obtained(
                context=self, host=host, source=source, cached=cached, seconds=0.0 if cached else seconds)
        except Exception:
            log.exception("a sturdydb_credentials_obtained implementation raised")

    # -- knowledge about the server ---------------------------------------------
    @property
    def dialect(self) -> DatabaseDialect:
        """The database dialect (detected from the current connection on first use)."""
        found = self._dialect
        if found is None:
            found = self.detect_dialect(self.connection, self.host)
        return found

    def detect_dialect(self, conn: Any, host: HostInfo) -> DatabaseDialect:
        """Detect (or take from the cache) the dialect of the server behind ``conn``.

        Bounded by ``auxiliary_query_timeout_sec``: a host that accepted the login and then
        froze would otherwise hang ``connect`` forever (its TCP stack still acknowledges).
        The watchdog aborts the connection and the caller gets ``QueryTimeoutError``.
        """
        found = self._dialect
        if found is None:
            seconds = float(self.props.get("auxiliary_query_timeout_sec") or 0)
            if seconds <= 0:  # 0: unbounded, as asked
                found = _dialects.detect_dialect(self.driver, conn, host.url, self.catalog.contributed_dialects())
            else:
                driver = self.driver
                deadline = watchdog.register(seconds, lambda: driver.abort_connection(conn), exclusive=True)
                try:
                    found = _dialects.detect_dialect(driver, conn, host.url, self.catalog.contributed_dialects())
                except Exception as exc:
                    if not deadline.fired:
                        raise
                    raise self.error(
                        QueryTimeoutError,
                        f"{host.url} accepted the connection but did not answer sturdydb's dialect "
                        f"detection within {seconds:g} s (auxiliary_query_timeout_sec), so the "
                        "connection was aborted; the host may be frozen or overloaded. Raise "
                        "auxiliary_query_timeout_sec if it is merely slow",
                    ) from exc
                finally:
                    watchdog.unregister(deadline)
            self._dialect = found
        return found

    @property
    def cluster_id(self) -> str:
        found = self.plugin_state.get("_cluster_id")
        if found is None:
            host, port = self.initial_host.host, self.initial_host.port
            # A pure function of the properties and the initial host: derived once per
            # configuration (a host-name parse and a digest), not at every connect.
            found = self.props.derived(("core.cluster_id", host, port),
                                       lambda: derive_cluster_id(self.props, host, port))
            self.plugin_state["_cluster_id"] = found
        return str(found)

    @property
    def topology(self) -> ClusterTopology:
        """The shared topology of this connection's cluster."""
        return registry.get(self.cluster_id)

    def instance_host_pattern(self) -> str | None:
        """``cluster_instance_host_pattern``, or the one implied by an RDS host name.

        With ``global_cluster_instance_host_patterns`` set, that value (every region's
        pattern): the global dialect maps each topology row through its region's entry.
        """
        patterns = self.props.get("global_cluster_instance_host_patterns")
        if patterns:
            return str(patterns)
        pattern = self.props.get("cluster_instance_host_pattern")
        if pattern:
            return str(pattern)
        return parse_rds_host(self.initial_host.host).instance_host_pattern()

    def in_transaction(self) -> bool:
        conn = self.connection
        return conn is not None and self.driver.in_transaction(conn)

    def error(self, cls: type[E], message: str) -> E:
        """A sturdydb error that is also the target driver's ``OperationalError``."""
        return make_error(cls, message, self.driver.operational_error)

    def __repr__(self) -> str:
        return f"<ConnectionContext {self.host.url} plugins={list(self.pipeline.codes)}>"
