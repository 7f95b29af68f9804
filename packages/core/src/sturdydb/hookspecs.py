"""The sturdydb hook specifications: the complete contract between the core and plugins.

Plugins implement these with ``@sturdydb.hookimpl``. Every hook is prefixed ``sturdydb_``.
Order is decided by the plugins' declared ``weight`` (lower is outermost), never by
``tryfirst``/``trylast``. Hooks may accept fewer arguments than the spec declares, so specs can
grow without breaking plugins.

Pipelines (implemented as ``@hookimpl(wrapper=True)`` one-``yield`` generators, ``return
(yield)``): ``sturdydb_connect`` and ``sturdydb_execute``. Broadcasts (every implementation is
called, must not raise or block): ``sturdydb_host_list_changed``,
``sturdydb_connection_changed``, ``sturdydb_host_state_changed``. Contributions (called on the
plugin *classes* of every installed plugin, also when not selected): ``sturdydb_add_properties``,
``sturdydb_add_profiles``, ``sturdydb_add_dialects``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from sturdydb.context import Call, ConnectionContext, ConnectRequest
    from sturdydb.dialects.base import DatabaseDialect
    from sturdydb.hosts import HostInfo
    from sturdydb.profiles import Profile
    from sturdydb.properties import PropertySpec
    from sturdydb.topology import ClusterTopology, HostEvent

PROJECT = "sturdydb"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def sturdydb_connect(request: ConnectRequest) -> Any:
    """Open one physical connection to ``request.host`` and return it.

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

    Implement as a wrapper. Only plugins whose ``wraps_method(method, network_bound=...)``
    returns true are in the chain for a method; a method that no plugin wraps goes straight
    to the driver. The terminal implementation runs ``call.func(*call.args, **call.kwargs)``.
    Driver exceptions propagate unchanged unless a plugin deliberately replaces them (failover
    raises its ``FailoverSuccessError`` chained to the driver's error). Never replay a
    statement silently.
    """


@hookspec
def sturdydb_host_list_changed(
    topology: ClusterTopology, changes: Mapping[str, frozenset[HostEvent]]
) -> None:
    """The topology of a cluster changed: ``changes`` maps ``host:port`` to what happened.

    Broadcast from whichever thread refreshed the topology. Must not raise or block.
    """


@hookspec
def sturdydb_connection_changed(context: ConnectionContext, old: Any, new: Any) -> None:
    """``context`` now uses the physical connection ``new`` instead of ``old`` (failover, switch).

    Broadcast on the application's thread right after the switch. Must not raise or block.
    """


@hookspec
def sturdydb_host_state_changed(host: HostInfo, available: bool, reason: str) -> None:
    """A plugin concluded that ``host`` became (un)available (monitoring, failed connect).

    Broadcast from the detecting thread. Must not raise or block.
    """


@hookspec
def sturdydb_add_properties() -> Sequence[PropertySpec]:
    """The properties this plugin owns (name, type, default, doc).

    Called on the plugin class, for every installed plugin, to build the property registry
    used for validation, ``sturdydb doctor`` and the generated configuration docs.
    """
    raise NotImplementedError


@hookspec
def sturdydb_add_profiles() -> Sequence[Profile]:
    """Named presets of plugins and property values that this plugin contributes."""
    raise NotImplementedError


@hookspec
def sturdydb_add_dialects() -> Sequence[DatabaseDialect]:
    """Extra database dialects (tried during detection before the built-in ones)."""
    raise NotImplementedError
