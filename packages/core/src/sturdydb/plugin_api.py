"""The public plugin API: everything a sturdydb plugin may use beyond the ``sturdydb`` package.

Every plugin, ours or a third party's, imports only ``sturdydb`` and this module; the rest of
core is private (``sturdydb._*``) and an import-contract test keeps our own distributions on
this side of the border. What is here is typed, documented and kept stable; a name that a
plugin needs and cannot find here should be added here, not imported from a private module.

**The objects a hook receives**

- :class:`ConnectRequest` (``sturdydb_connect``): ``host``, ``props``, ``driver_kwargs`` (what
  the driver will receive: auth plugins set ``user``/``password``), ``purpose`` (``"connect"``,
  ``"reconnect"`` or ``"auxiliary"``) and ``context``.
- :class:`Call` (``sturdydb_execute``, ``sturdydb_execute_around``): ``method``
  (``"Cursor.execute"``, ...), ``target``, ``args``, ``kwargs`` and ``context``. The
  ``proceed`` of ``sturdydb_execute_around`` is a :data:`Proceed`: ``return proceed(call)``
  runs the rest of the chain (the fast form for plugins on the hot path).
- :class:`ConnectionContext`: one per application connection. ``props``, ``driver`` (the
  :class:`DriverDialect`), ``dialect`` (the detected :class:`DatabaseDialect`), ``session``
  (the :class:`SessionState` the application set), ``connection`` and ``host`` (the current
  physical connection and where it goes), ``hosts``, ``topology`` (the shared
  :class:`ClusterTopology`), ``cluster_id``, ``plugin_state`` (one slot per plugin code),
  ``in_transaction()``, ``error(cls, message)`` (a sturdydb error that is also the driver's
  ``OperationalError``), and the services below.

**Opening connections**

- ``context.open(host, purpose=..., overrides=..., skip=plugin)``: a new physical connection
  through the whole chain (optionally without the calling plugin); it is returned, not
  installed. ``context.set_connection(new, host)`` installs it (session state carried over,
  the old connection rolled back and closed, ``sturdydb_connection_changed`` broadcast);
  ``keep_old=True`` leaves the old connection open for the caller (read/write splitting keeps
  it cached or pooled) and ``carry_session=False`` says the caller already brought ``new`` to
  the session state.
- ``context.wanted_role``: the :class:`HostRole` the application's current work needs when a
  plugin decided it (read/write splitting: ``READER`` while ``read_only`` is true, ``WRITER``
  otherwise), ``None`` otherwise. Failover replaces a failed connection with one of that role
  (a reader, or the writer when no reader answers) instead of following its mode alone.
- A ``sturdydb_execute`` wrapper may replace ``call.func``, ``call.args`` and ``call.target``
  before it yields (a ``sturdydb_execute_around`` before it proceeds): the terminal
  implementation performs the call as it is then.
- ``context.open_auxiliary(host, extra, connect_timeout)``: an autocommit side connection for
  a plugin's own probes, with its prefixed properties (``monitoring-*``, ``frt-*``) applied.
- :func:`connect_below`: re-run only the part of the connect chain inside the calling plugin
  (an auth plugin retrying with a fresh credential: outer plugins see one connect).
- ``context.report_credentials(host, source, cached, seconds)``: an auth plugin says it
  obtained a credential for a connect (cache hit, or fetched in ``seconds``); the core
  broadcasts ``sturdydb_credentials_obtained`` to the chain. Never pass the credential.

**Bounded work and deadlines**

- :func:`bounded`: run one auxiliary driver call with a time bound; the connection is aborted
  (and the call raises) when the bound passes.
- :data:`watchdog` and :class:`Deadline`: the one process-wide deadline thread
  (``watchdog.register(seconds, callback)`` / ``watchdog.unregister(deadline)``); callbacks run
  on that thread and must not block.

**Hosts, topology and events**

- :class:`HostInfo`, :class:`HostRole`, :class:`HostAvailability`, :func:`classify_host`,
  :func:`parse_rds_host`, :class:`RdsUrlType`: host names and their kinds.
- :class:`ClusterTopology` (``context.topology`` or :func:`cluster_topology`): the shared view
  of a cluster. ``update(hosts)`` publishes a new host list (core broadcasts
  ``sturdydb_host_list_changed`` to every chain connected to that cluster), ``mark(host,
  availability, reason)`` and ``report_host_state(host, available, reason)`` publish a host's
  state (core broadcasts ``sturdydb_host_state_changed``), ``report_host_suspected(host,
  reason)`` a mere suspicion that records nothing (core broadcasts ``sturdydb_host_suspected``;
  the core itself reports one when a call's ``socket_timeout`` passes). Subscribing is
  implementing those hooks. :func:`host_from_topology_row` builds a :class:`HostInfo` from a dialect's row.
- :func:`select_host` with a strategy from :data:`SELECTOR_STRATEGIES` (pass the
  connection's ``props`` for weight pairs and ``context=`` so ``fastest_response`` can probe);
  :func:`select_reader`: a reader of a topology by ``reader_host_selector_strategy``, skipping
  readers over ``max_replica_lag_ms`` and hosts outside ``context.allowed_hosts``, the writer
  when no reader qualifies; :func:`qualifying_readers`: the readers that rule accepts (for a
  plugin that must check a reader it already holds a connection to, as read/write splitting
  does with its kept reader); :func:`parse_weight_pairs` for a plugin's own weight property.
- ``context.allowed_hosts`` (a predicate on :class:`HostInfo`, ``None`` for all) restricts the
  instances one connection may use (custom endpoints); ``context.usable_hosts(hosts)`` applies
  it. Routing and failover honour it.

**Dialects and properties**

- :class:`DriverDialect` (driver differences: error classification, transaction status,
  session state, cancel and abort), :class:`SessionState`, :class:`DatabaseDialect` (SQL of a
  server kind), :func:`remember_dialect` (cache a detection result for a host).
- :class:`Properties` (``props.get(name)``, ``props.masked()``, ``props.derived(key, build)``
  for settings computed once per configuration, ``props.registry``: the
  :class:`PropertyRegistry` of every installed plugin's :class:`~sturdydb.PropertySpec`),
  :func:`coerce_bool`, :func:`normalize_choice` for a plugin's own choice properties, and
  :func:`build_properties`: the validated properties a connect with given arguments would use
  (for a plugin's tests and tools).

**Packaging**

- :func:`lazy_exports`: the module ``__getattr__`` of a plugin package that imports its
  exports on first use, so that importing the package (for its cheap ``PluginInfo``) stays cheap.
- :class:`ImmutableRecord`: a frozen settings class without a dataclass's definition cost (a
  millisecond per class at a cold start), for classes imported on the first connect.

**Async connections** (``sturdydb.connect_async``; see the architecture page)

- A plugin whose ``sturdydb_execute`` wrapper only does non-blocking bookkeeping sets
  ``async_safe_execute = True`` on its class and serves both worlds from one implementation.
- A plugin that waits or does I/O around a call implements ``async def
  sturdydb_execute_async(self, call, proceed)`` (``proceed`` is an :data:`AsyncProceed`:
  ``return await proceed(call)``) and runs blocking work with :func:`run_off_loop`.
- Connect wrappers need nothing: for async connections the whole connect chain already runs
  off-loop. :func:`is_async_connection` tells whether a context belongs to one.

**Threads and process state**

- :class:`BackgroundMonitor`: the one lifecycle helper for a plugin's background thread (lazy
  start, named daemon, restart with backoff, stop, fork reset, release).
- :func:`register_process_state` / :func:`reset_process_state`: register a plugin's
  process-wide state (reset between tests, fresh in a forked child); :func:`on_release` runs a
  callback at :func:`sturdydb.release_resources`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from sturdydb._config import build_properties as _build_properties
from sturdydb._context import Call, ConnectionContext, ConnectRequest
from sturdydb._dialects import remember_dialect
from sturdydb._dialects.base import DatabaseDialect
from sturdydb._discovery import catalog as _catalog
from sturdydb._drivers import driver_dialect_for as _driver_dialect_for
from sturdydb._drivers.base import DriverDialect, SessionState
from sturdydb._hosts import HostAvailability, HostInfo, HostRole, RdsUrlType, classify_host, parse_rds_host
from sturdydb._monitor_thread import BackgroundMonitor
from sturdydb._offloop import run_off_loop
from sturdydb._properties import (
    SELECTOR_STRATEGIES,
    Properties,
    PropertyRegistry,
    coerce_bool,
    normalize_choice,
)
from sturdydb._record import ImmutableRecord
from sturdydb._registry import register_process_state, reset_process_state
from sturdydb._resources import on_release
from sturdydb._selectors import parse_weight_pairs, qualifying_readers, select_host, select_reader
from sturdydb._topology import ClusterTopology, HostEvent, host_from_topology_row
from sturdydb._topology import registry as _topologies
from sturdydb._watchdog import Deadline, bounded, watchdog

if TYPE_CHECKING:
    from sturdydb._plugin import Plugin

#: The type of ``proceed`` in ``sturdydb_execute_async``: awaits the rest of the chain.
AsyncProceed = Callable[[Call], Awaitable[Any]]
#: The type of ``proceed`` in ``sturdydb_execute_around``: runs the rest of the chain.
Proceed = Callable[[Call], Any]

__all__ = [
    "SELECTOR_STRATEGIES",
    "AsyncProceed",
    "BackgroundMonitor",
    "Call",
    "ClusterTopology",
    "ConnectRequest",
    "ConnectionContext",
    "DatabaseDialect",
    "Deadline",
    "DriverDialect",
    "HostAvailability",
    "HostEvent",
    "HostInfo",
    "HostRole",
    "ImmutableRecord",
    "Proceed",
    "Properties",
    "PropertyRegistry",
    "RdsUrlType",
    "SessionState",
    "bounded",
    "build_properties",
    "classify_host",
    "cluster_topology",
    "coerce_bool",
    "connect_below",
    "host_from_topology_row",
    "is_async_connection",
    "lazy_exports",
    "normalize_choice",
    "on_release",
    "parse_rds_host",
    "parse_weight_pairs",
    "qualifying_readers",
    "register_process_state",
    "remember_dialect",
    "reset_process_state",
    "run_off_loop",
    "select_host",
    "select_reader",
    "watchdog",
]


def connect_below(plugin: Plugin, request: ConnectRequest) -> Any:
    """Run the part of ``request``'s connect chain inside ``plugin`` (and the driver) again.

    For a ``sturdydb_connect`` wrapper that must retry its own inner step, such as an auth
    plugin whose cached credential was refused: the plugins outside it (failover, monitoring)
    see one connect, not two. Returns the new driver connection or raises the driver's error.
    """
    return request.context.pipeline.connect_below(plugin, request)


def cluster_topology(cluster_id: str) -> ClusterTopology:
    """The shared topology of the cluster ``cluster_id`` (created empty on first use)."""
    return _topologies.get(cluster_id)


def build_properties(conninfo: str = "", target: Callable[..., Any] | None = None, **kwargs: Any) -> Properties:
    """The validated :class:`Properties` that ``sturdydb.connect(target, conninfo, **kwargs)`` would use.

    Parses and validates exactly as a connect does (profiles applied, unknown names warned
    about, bad values refused with :class:`~sturdydb.ConfigurationError`) without opening
    anything. ``target`` (the driver's connect function) adds the driver's own keywords; without
    it only sturdydb's and the plugins' properties are known. For a plugin's tests and tools.
    """
    driver = _driver_dialect_for(target) if target is not None else None
    return _build_properties(_catalog(), driver, conninfo, dict(kwargs))


def lazy_exports(namespace: dict[str, Any], exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports each exported name from its module on first use.

    A plugin package whose ``__init__`` must stay cheap (the catalog reads its ``PluginInfo``
    without importing the plugin) writes ``__getattr__ = lazy_exports(globals(), {"Name":
    "pkg.module", ...})``. A name is imported on first access and then stored in ``namespace``,
    so later accesses are plain attribute reads; an unknown name raises ``AttributeError``.
    """
    module_name = namespace.get("__name__", "?")

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__


def is_async_connection(context: ConnectionContext) -> bool:
    """Whether ``context`` belongs to a connection made by ``sturdydb.connect_async``."""
    return context.loop is not None
