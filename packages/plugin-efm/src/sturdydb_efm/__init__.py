"""sturdydb-efm: enhanced failure monitoring (plugin code ``host_monitoring``).

A call blocked on a host that went silent (frozen, blackholed, partitioned) would wait for TCP
to give up, which takes minutes. This plugin registers every network-bound call with a monitor
of its host; once a call has been in flight past the grace time, the monitor probes the host
on its own connection and, when the host stops answering, aborts every call in flight to it so
that failover (outside this plugin) can act. See the README for the exact rule.

Modules: :mod:`~sturdydb_efm.settings` (properties and the rule's arithmetic),
:mod:`~sturdydb_efm.schedule` (the probe schedule as pure state), :mod:`~sturdydb_efm.slots`
(the per-connection call slot), :mod:`~sturdydb_efm.monitor` (host monitors and the service),
:mod:`~sturdydb_efm.plugin` (the plugin and the monitoring connection).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sturdydb.plugin_api import lazy_exports

if TYPE_CHECKING:
    from sturdydb_efm.monitor import HostMonitor, MonitorService, service
    from sturdydb_efm.plugin import HostMonitoringPlugin, open_monitoring_connection
    from sturdydb_efm.schedule import ProbeSchedule, Verdict
    from sturdydb_efm.settings import CODE, PROPERTIES, DetectionRule
    from sturdydb_efm.slots import CallSlot

#: What this package exports, and the module each name lives in. Imported on first use, not
#: here: the plugin catalog reads this distribution's cheap ``_info`` module without importing
#: the plugin (see sturdydb's PluginInfo), so importing the package must stay cheap.
_LAZY: dict[str, str] = {
    "HostMonitor": "sturdydb_efm.monitor",
    "MonitorService": "sturdydb_efm.monitor",
    "service": "sturdydb_efm.monitor",
    "HostMonitoringPlugin": "sturdydb_efm.plugin",
    "open_monitoring_connection": "sturdydb_efm.plugin",
    "ProbeSchedule": "sturdydb_efm.schedule",
    "Verdict": "sturdydb_efm.schedule",
    "CODE": "sturdydb_efm.settings",
    "PROPERTIES": "sturdydb_efm.settings",
    "DetectionRule": "sturdydb_efm.settings",
    "CallSlot": "sturdydb_efm.slots",
}


__getattr__ = lazy_exports(globals(), _LAZY)


__all__ = [
    "CODE",
    "PROPERTIES",
    "CallSlot",
    "DetectionRule",
    "HostMonitor",
    "HostMonitoringPlugin",
    "MonitorService",
    "ProbeSchedule",
    "Verdict",
    "open_monitoring_connection",
    "service",
]
