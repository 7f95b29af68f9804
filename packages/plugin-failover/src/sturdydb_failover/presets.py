"""The presets sturdydb-failover contributes through ``sturdydb_add_profiles``.

They combine failover with the connection tracker (this distribution) and host monitoring
(sturdydb-efm). A preset that combines several plugins lives with the plugin it is built
around, the first code of its ``plugins``; applying one whose plugins are not all installed
fails with an error naming the missing codes (the core checks it).
"""

from __future__ import annotations

from sturdydb import Profile

__all__ = ["PRESETS"]

#: ``source`` is the distribution, as ``sturdydb properties --markdown`` shows it.
_SOURCE = "sturdydb-failover"

PRESETS: tuple[Profile, ...] = (
    Profile(
        "aurora-fast",
        plugins="aurora_connection_tracker,failover,host_monitoring",
        properties={
            "failure_detection_time_ms": 1000,
            "failure_detection_interval_ms": 500,
            "failure_detection_count": 2,
            "cluster_topology_high_refresh_rate_ms": 100,
            "topology_refresh_ms": 10000,
            "failover_timeout_sec": 60,
            "connect_timeout": 3,
        },
        doc="Fast detection for latency-sensitive OLTP: a call waiting on a silent host is "
            "aborted at most 1.75 s after it started (1000 ms grace, then 2 probes 500 ms apart, "
            "each given 250 ms to answer).",
        source=_SOURCE,
    ),
    Profile(
        "aurora-relaxed",
        plugins="aurora_connection_tracker,failover,host_monitoring",
        properties={
            "failure_detection_time_ms": 60000,
            "failure_detection_interval_ms": 15000,
            "failure_detection_count": 5,
            "failover_timeout_sec": 300,
        },
        doc="Relaxed monitoring for long-running analytical queries on busy hosts: monitoring "
            "starts after 60 s and needs five failed probes 15 s apart.",
        source=_SOURCE,
    ),
    Profile(
        "failover-only",
        plugins="failover",
        properties={},
        doc="Failover without host monitoring: failures are detected by network errors and "
            "the driver's own timeouts (set `socket_timeout`).",
        source=_SOURCE,
    ),
)
