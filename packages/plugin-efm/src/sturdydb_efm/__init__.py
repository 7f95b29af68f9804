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

from sturdydb_efm.monitor import HostMonitor, MonitorService, service
from sturdydb_efm.plugin import HostMonitoringPlugin, open_monitoring_connection
from sturdydb_efm.schedule import ProbeSchedule, Verdict
from sturdydb_efm.settings import CODE, PROPERTIES, DetectionRule
from sturdydb_efm.slots import CallSlot

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
