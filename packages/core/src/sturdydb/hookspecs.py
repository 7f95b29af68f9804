"""The sturdydb hook specifications: the complete contract between the core and plugins.

Plugins implement these with ``@sturdydb.hookimpl``. Every hook is prefixed ``sturdydb_``.
Order is decided by the plugins' declared ``weight`` (lower is outermost), never by
``tryfirst``/``trylast``. Hooks may accept fewer arguments than the spec declares, so specs can
grow without breaking plugins.

Every hook has a contract test in the core's tests, marked ``@pytest.mark.hookspec("<name>")``;
a meta-test fails when a hook has none (``tests/test_every_hookspec_is_tested.py``).

Pipelines (implemented as ``@hookimpl(wrapper=True)`` one-``yield`` generators, ``return
(yield)``): ``sturdydb_connect`` and ``sturdydb_execute``; ``sturdydb_execute_around`` is the
fast form of the execute pipeline (a plain function taking ``proceed``) and
``sturdydb_execute_async`` its async form (a plain ``async def`` taking ``proceed``); the
core's compiled chains call both, never pluggy. Broadcasts (delivered by the core, every
implementation is called, must not block): ``sturdydb_host_list_changed``,
``sturdydb_connection_changed``, ``sturdydb_host_state_changed``,
``sturdydb_host_suspected``, ``sturdydb_credentials_obtained``. Contributions (called on the
plugin *classes* of every installed plugin, also when not selected): ``sturdydb_add_properties``,
``sturdydb_add_profiles``, ``sturdydb_add_dialects``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from sturdydb._context import Call, ConnectionContext, ConnectRequest
    from sturdydb._dialects.base import DatabaseDialect
    from sturdydb._hosts import HostInfo
    from sturdydb._profiles import Profile
    from sturdydb._properties import PropertySpec
    from sturdydb._topology import ClusterTopology, HostEvent

PROJECT = "sturdydb"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def sturdydb_connect(request: ConnectRequest) -> Any:
    """Open one physical connection to ``request.host`` and return it.

    When: for every physical connection opened through a chain: the application's connect
    (``request.purpose == "connect"``), a failover's replacement (``"reconnect"``) and a
    plugin's own connection (``"auxiliary"``, monitoring or topology), on the thread that asked.
    May block (it connects) and may raise.

    Implement as a wrapper: change ``request.driver_kwargs`` before ``yield`` (auth plugins
    set the password there), inspect or replace the outcome after it. The core's terminal
    implementation calls the target driver's connect function. A wrapper may raise instead
    of returning; the exception reaches ``sturdydb.connect``'s caller (or the plugin that
    started this connect, such as failover). To open *another* connection, call
    ``request.context.connect(...)``: a wrapper cannot re-run the chain inside itself.
    """


@hookspec(firstresult=True)
def sturdydb_execute(call: Call) -> Any:
    """Perform one DB-API call (``call.method`` such as ``"Cursor.execute"``) and return its result.

    When: for each call the application makes on a wrapped connection or cursor, on the
    application's thread, before the driver sees it. May block (it runs the call) and may
    raise. The hot path: keep the work before and after ``yield`` to a few microseconds.

    Implement as a wrapper. Only plugins whose ``wraps_method(method, network_bound=...)``
    returns true are in the chain for a method; a method that no plugin wraps goes straight
    to the driver. The terminal implementation runs ``call.func(*call.args, **call.kwargs)``
    as they are when the call reaches it: a wrapper may replace ``call.func``, ``call.args``
    and ``call.target`` before it yields (read/write splitting does, to set ``read_only`` on
    the connection it switched to, or to return a pooled connection instead of closing it).
    Driver exceptions propagate unchanged unless a plugin deliberately replaces them (failover
    raises its ``FailoverSuccessError`` chained to the driver's error). Never replay a
    statement silently.
    """


@hookspec(firstresult=True)
def sturdydb_execute_around(call: Call, proceed: Callable[[Call], Any]) -> Any:
    """The same pipeline as ``sturdydb_execute``, written as a plain function: the fast form.

    When: exactly as ``sturdydb_execute`` (each call the application makes, on its thread,
    only for methods the plugin's ``wraps_method`` accepts). Implement as a plain
    ``@hookimpl`` taking ``proceed``: ``return proceed(call)`` runs the rest of the chain and
    the driver call; do your work around it, catch what it raises, return or raise what the
    application should see. Same contract as the generator form (replace ``call.func`` /
    ``call.args`` / ``call.target`` before proceeding, never replay a statement silently).

    Why a second form: driving a generator costs about four times the instructions of a
    plain call (its creation, two resumptions, the ``StopIteration`` that carries the
    result), which is a visible part of an ORM statement's client cost. The core's compiled
    chain calls it, never pluggy, and orders it by weight among the generator wrappers. A
    plugin implements one of the two forms, not both. Never driven on async connections
    (``proceed`` is not awaitable): ``connect_async`` refuses a chain with such a plugin
    unless it also implements ``sturdydb_execute_async``.
    """


@hookspec(firstresult=True)
def sturdydb_execute_async(call: Call, proceed: Callable[[Call], Awaitable[Any]]) -> Any:
    """The async form of ``sturdydb_execute``, for connections made by ``sturdydb.connect_async``.

    When: for each call the application awaits on an async connection, on the event loop's
    thread, before the driver sees it; only for plugins whose ``wraps_method`` is true for
    the method. The core's compiled async chain calls it, never pluggy (which calls hooks
    synchronously). Implement as a plain ``@hookimpl`` coroutine function: ``return await
    proceed(call)`` runs the rest of the chain and the driver's awaited call; do your work
    around it. Must never block the loop: run blocking work off-loop
    (``sturdydb.plugin_api.run_off_loop``). May raise; ``asyncio.CancelledError`` passes
    through it (a cancellation is not a failed connection).

    A plugin with a ``sturdydb_execute`` wrapper and no async form is refused by
    ``connect_async``, unless the plugin class sets ``async_safe_execute = True`` (its sync
    wrapper only does bookkeeping that never blocks): the core then drives that wrapper
    around the awaited call.
    """


@hookspec
def sturdydb_host_list_changed(
    topology: ClusterTopology, changes: Mapping[str, frozenset[HostEvent]]
) -> None:
    """The topology of a cluster changed: ``changes`` maps ``host:port`` to what happened.

    When: right after :meth:`ClusterTopology.update <sturdydb._topology.ClusterTopology.update>`
    stored a host list that differs from the previous one (``topology.hosts`` is already the
    new list), whichever plugin or core code read it. Delivered by the core to every plugin
    chain that opened a connection to this cluster (``topology.cluster_id``) and implements a
    topology hook, once per chain. Thread: the one that called ``update`` (a monitor thread,
    or the application's thread during a connect). Must not block (other chains wait); an
    exception is logged and does not stop the broadcast, but do not rely on that.
    """


@hookspec
def sturdydb_connection_changed(context: ConnectionContext, old: Any, new: Any, kept: bool) -> None:
    """``context`` now uses the physical connection ``new`` instead of ``old`` (failover, switch).

    When: at the end of :meth:`ConnectionContext.set_connection
    <sturdydb._context.ConnectionContext.set_connection>`, after the session state was carried
    over and ``old`` was rolled back and closed (``old`` may be ``None``). ``kept`` is true
    when the switching plugin keeps ``old`` open for later use (read/write splitting caches or
    pools it): what a plugin registered for ``old`` may then stay registered, cheaper than
    dropping and redoing it at every switch. An implementation may leave ``kept`` out of its
    parameters (pluggy passes only those it names). Delivered to the
    chain of ``context`` only. Thread: the one that switched (usually the application's, inside
    the call that failed over). Must not block; an exception is logged and swallowed.
    """


@hookspec
def sturdydb_host_state_changed(host: HostInfo, available: bool, reason: str) -> None:
    """A plugin concluded that ``host`` became (un)available (monitoring, failed connect).

    When: a plugin reported it to the core through :meth:`ClusterTopology.report_host_state
    <sturdydb._topology.ClusterTopology.report_host_state>` (or ``mark``), after the topology
    recorded the availability. Every report is delivered, also a repeated one. ``host`` carries
    the new availability; ``reason`` is a human-readable sentence. Delivered by the core to
    every chain that opened a connection to that cluster and implements a topology hook.
    Thread: the detecting one (a monitor thread, sturdydb's watchdog thread, or the
    application's). Must not block; an exception is logged and does not stop the broadcast.
    """


@hookspec
def sturdydb_host_suspected(topology: ClusterTopology, host: HostInfo, reason: str) -> None:
    """A call on ``host`` gave a first sign that the host may not answer: a suspicion, not a verdict.

    When: someone reported it through :meth:`ClusterTopology.report_host_suspected
    <sturdydb._topology.ClusterTopology.report_host_suspected>`; the core does when a call's
    ``socket_timeout`` deadline passes, just before it sends the cancel request (a frozen host
    answers neither; a healthy one running a slow statement answers the cancel). Nothing was
    recorded: ``host`` keeps its availability and the topology is unchanged, so an
    implementation that cares checks the host itself (the failover plugin's topology monitor
    probes the writer and the other hosts). ``reason`` is a human-readable sentence. Delivered
    by the core to every chain that opened a connection to that cluster
    (``topology.cluster_id``) and implements a topology hook. Thread: the reporting one
    (``sturdydb-cancel`` for a fired ``socket_timeout``, whose cancel waits for the broadcast).
    Must not block; an exception is logged and does not stop the broadcast.
    """


@hookspec
def sturdydb_credentials_obtained(
    context: ConnectionContext, host: HostInfo, source: str, cached: bool, seconds: float
) -> None:
    """An auth plugin obtained the credential for one physical connect to ``host``.

    When: a plugin called :meth:`ConnectionContext.report_credentials
    <sturdydb._context.ConnectionContext.report_credentials>` inside its ``sturdydb_connect``
    wrapper, after it had the credential and before the driver used it: once per credential
    the connect needed (a retry with a refreshed credential reports again). ``source`` names
    where it came from (``"iam"``, ``"secrets_manager"``, ``"federated_auth"``, ``"okta"``);
    ``cached`` is true when the plugin's cache answered (``seconds`` is then 0) and false when
    it fetched or generated the credential now (``seconds``: how long that took). A fetch that
    raised is not reported (the connect fails with that error). No argument carries the
    credential itself. Delivered to the chain of ``context`` only. Thread: the connecting
    one. Must not block (the connect waits); an exception is logged and swallowed.
    """


@hookspec
def sturdydb_add_properties() -> Sequence[PropertySpec]:
    """The properties this plugin owns (name, type, default, doc).

    When: once per catalog build (first use in the process, then after ``reload_catalog``,
    ``register_plugin``), on the plugin *class* (implement it as a ``@staticmethod``), for every
    installed plugin, selected or not. Builds the property registry used for validation,
    ``sturdydb doctor`` and the generated configuration docs. Not called for a plugin whose
    distribution publishes a :class:`~sturdydb.PluginInfo` (its ``properties`` are used, so the
    plugin is imported only when selected). Thread: whichever thread
    first needs the catalog, with the catalog lock held. Must return quickly with no I/O. An
    exception is logged at ERROR and leaves this plugin out of the catalog (its code then
    reports why it is unusable); the other plugins are unaffected.
    """
    raise NotImplementedError


@hookspec
def sturdydb_add_profiles() -> Sequence[Profile]:
    """Named presets of plugins and property values that this plugin contributes.

    When it is called, on which thread, and what happens if it raises: as
    ``sturdydb_add_properties``. A preset that combines several
    plugins belongs to the distribution of its first plugin code; applying a preset whose
    plugins are not all installed raises ``ConfigurationError`` naming the missing codes.
    Application profiles of the same name win over contributed ones.
    """
    raise NotImplementedError


@hookspec
def sturdydb_add_dialects() -> Sequence[DatabaseDialect]:
    """Extra database dialects, tried during detection before the built-in ones.

    When it is called, on which thread, and what happens if it raises: as
    ``sturdydb_add_properties``. At connect time (when a plugin
    requires the dialect) each contributed dialect of the driver's family is asked
    ``is_dialect(driver, conn)`` in contribution order on the application's thread; the first
    that answers true is the connection's dialect (and is cached for the host), otherwise the
    built-in detection runs. ``is_dialect`` must answer false for a server of another kind
    and may raise only when the connection broke (the connect then fails with that error).
    """
    raise NotImplementedError
