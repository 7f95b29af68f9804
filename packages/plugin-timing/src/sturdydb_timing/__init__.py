"""sturdydb-timing: the ``connect_time`` and ``execute_time`` plugins (the reference's codes).

``connect_time`` times every physical connect through the chain (the application's,
failover's reconnects, monitoring's own connections); ``execute_time`` times every
network-bound DB-API call (``Cursor.execute``, ``fetch*`` where the driver reads the network,
``commit``...). Each logs one line per connect or call on the logger ``sturdydb.connect_time``
or ``sturdydb.execute_time`` at the level of ``connect_time_log_level`` /
``execute_time_log_level`` (``debug`` by default, ``off`` to stay silent), and adds the figure
to totals that code can read: process-wide (:data:`connect_times`, :data:`execute_times`) and
per connection (:func:`timings`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sturdydb.plugin_api import lazy_exports

if TYPE_CHECKING:
    from sturdydb_timing.plugins import ConnectTimePlugin, ExecuteTimePlugin, timings
    from sturdydb_timing.totals import Timings, TimingSnapshot, connect_times, execute_times

#: What this package exports, and the module each name lives in. Imported on first use, not
#: here: the plugin catalog reads this distribution's cheap ``_info`` module without importing
#: the plugins (see sturdydb's PluginInfo), so importing the package must stay cheap.
_LAZY: dict[str, str] = {
    "ConnectTimePlugin": "sturdydb_timing.plugins",
    "ExecuteTimePlugin": "sturdydb_timing.plugins",
    "timings": "sturdydb_timing.plugins",
    "Timings": "sturdydb_timing.totals",
    "TimingSnapshot": "sturdydb_timing.totals",
    "connect_times": "sturdydb_timing.totals",
    "execute_times": "sturdydb_timing.totals",
}

__getattr__ = lazy_exports(globals(), _LAZY)

__all__ = [
    "ConnectTimePlugin",
    "ExecuteTimePlugin",
    "TimingSnapshot",
    "Timings",
    "connect_times",
    "execute_times",
    "timings",
]
