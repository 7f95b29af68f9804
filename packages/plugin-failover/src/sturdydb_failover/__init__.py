"""sturdydb-failover: fast, correct writer and reader failover for Aurora-style clusters.

Two plugins, published in the ``sturdydb.plugins`` entry-point group:

- ``failover`` (alias ``failover_v2``, weight 400): connect-time routing by the shared
  topology and failover on connection failures (:mod:`sturdydb_failover.plugin`);
- ``aurora_connection_tracker`` (weight 100): aborts this process's other connections to a
  writer that was replaced (:mod:`sturdydb_failover.tracker`).

Both share one topology monitor per cluster (:mod:`sturdydb_failover.monitor`). Nothing here
starts a thread at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sturdydb.plugin_api import lazy_exports

if TYPE_CHECKING:
    from sturdydb_failover.monitor import TopologyMonitor, monitors
    from sturdydb_failover.plugin import FailoverPlugin
    from sturdydb_failover.settings import FailoverMode, FailoverSettings
    from sturdydb_failover.tracker import ConnectionTrackerPlugin, tracked_connections

#: What this package exports, and the module each name lives in. Imported on first use, not
#: here: the plugin catalog reads this distribution's cheap ``_info`` module without importing
#: the plugin (see sturdydb's PluginInfo), so importing the package must stay cheap.
_LAZY: dict[str, str] = {
    "TopologyMonitor": "sturdydb_failover.monitor",
    "monitors": "sturdydb_failover.monitor",
    "FailoverPlugin": "sturdydb_failover.plugin",
    "FailoverMode": "sturdydb_failover.settings",
    "FailoverSettings": "sturdydb_failover.settings",
    "ConnectionTrackerPlugin": "sturdydb_failover.tracker",
    "tracked_connections": "sturdydb_failover.tracker",
}


__getattr__ = lazy_exports(globals(), _LAZY)


__all__ = [
    "ConnectionTrackerPlugin",
    "FailoverMode",
    "FailoverPlugin",
    "FailoverSettings",
    "TopologyMonitor",
    "monitors",
    "tracked_connections",
]
