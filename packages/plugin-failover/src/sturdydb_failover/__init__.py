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

from sturdydb_failover.monitor import TopologyMonitor, monitors
from sturdydb_failover.plugin import FailoverPlugin
from sturdydb_failover.settings import FailoverMode, FailoverSettings
from sturdydb_failover.tracker import ConnectionTrackerPlugin, tracked_connections

__all__ = [
    "ConnectionTrackerPlugin",
    "FailoverMode",
    "FailoverPlugin",
    "FailoverSettings",
    "TopologyMonitor",
    "monitors",
    "tracked_connections",
]
