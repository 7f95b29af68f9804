"""sturdydb-limitless: connect to the least loaded transaction router of an Aurora PostgreSQL
Limitless shard group (plugin code ``limitless``).

Modules: :mod:`~sturdydb_limitless.settings` (properties and the load-to-weight rule),
:mod:`~sturdydb_limitless.routers` (the shared router list and its monitor per shard group),
:mod:`~sturdydb_limitless.plugin` (router choice and retry at connect).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sturdydb.plugin_api import lazy_exports

if TYPE_CHECKING:
    from sturdydb_limitless.plugin import LimitlessPlugin
    from sturdydb_limitless.routers import RouterMonitor, monitor_for, monitors, read_routers
    from sturdydb_limitless.settings import CODE, PROPERTIES, ROUTER_QUERY, LimitlessSettings, router_weight

#: Imported on first use, so that importing the package (for its cheap PluginInfo) stays cheap.
_LAZY: dict[str, str] = {
    "LimitlessPlugin": "sturdydb_limitless.plugin",
    "RouterMonitor": "sturdydb_limitless.routers",
    "monitor_for": "sturdydb_limitless.routers",
    "monitors": "sturdydb_limitless.routers",
    "read_routers": "sturdydb_limitless.routers",
    "CODE": "sturdydb_limitless.settings",
    "PROPERTIES": "sturdydb_limitless.settings",
    "ROUTER_QUERY": "sturdydb_limitless.settings",
    "LimitlessSettings": "sturdydb_limitless.settings",
    "router_weight": "sturdydb_limitless.settings",
}

__getattr__ = lazy_exports(globals(), _LAZY)

__all__ = [
    "CODE",
    "PROPERTIES",
    "ROUTER_QUERY",
    "LimitlessPlugin",
    "LimitlessSettings",
    "RouterMonitor",
    "monitor_for",
    "monitors",
    "read_routers",
    "router_weight",
]
