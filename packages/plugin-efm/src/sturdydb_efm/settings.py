"""The monitoring properties, their validation, and the detection rule they define.

The plugin owns five properties with the reference wrapper's names and defaults, plus the
``monitoring-`` family (driver or sturdydb properties for the monitoring connection only, never
passed to the application's connection). :class:`DetectionRule` turns one connection's
properties into the numbers the monitor works with, validates their combination, and computes
the rule's worst-case detection times, which the README, the benchmark and the tests share.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sturdydb import ConfigurationError, PropertySpec
from sturdydb.plugin_api import ImmutableRecord

if TYPE_CHECKING:
    from sturdydb.plugin_api import Properties

__all__ = ["CODE", "MONITORING_PREFIX", "PROPERTIES", "DetectionRule"]

CODE = "host_monitoring"
MONITORING_PREFIX = "monitoring-"

#: Below this a probe cannot tell a busy loopback server from a dead one.
_MIN_PROBE_TIMEOUT_MS = 50

PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("failure_detection_enabled", bool, True,
                 "Monitor the hosts of network-bound calls and abort the calls when a host stops "
                 "answering. false leaves the plugin out of the chain.", owner=CODE),
    PropertySpec("failure_detection_time_ms", int, 30000,
                 "Grace time: a call is monitored only once it has been in flight this long.",
                 owner=CODE, unit="ms", minimum=0),
    PropertySpec("failure_detection_interval_ms", int, 5000,
                 "Time between two probes of a host while a call to it is past the grace time. "
                 "A probe fails when the host has not answered within half of it.",
                 owner=CODE, unit="ms", minimum=100),
    PropertySpec("failure_detection_count", int, 3,
                 "Consecutive failed probes after which the host is declared unhealthy and every "
                 "call in flight to it is aborted.", owner=CODE, minimum=1),
    PropertySpec("monitor_disposal_time_ms", int, 600000,
                 "A host's monitor (its thread and monitoring connection) stops after this long "
                 "without calls and starts again on the next call.", owner=CODE, unit="ms", minimum=0),
    PropertySpec(MONITORING_PREFIX, str, None,
                 "Properties for the monitoring connection only, for example "
                 "`monitoring-connect_timeout=2` or `monitoring-user=monitor`. Never passed to the "
                 "application's connection.", owner=CODE, prefix=True),
)


class DetectionRule(ImmutableRecord):
    """One connection's monitoring settings, in seconds.

    The rule (the README draws it as a timeline): a call is *overdue* once it has been in
    flight for ``grace``. From the moment a host has an overdue call, its monitor probes it at
    ``t1, t1 + interval, t1 + 2 interval ...``; probe *k* succeeds when the host answers it by
    ``t_k + probe_timeout`` (``probe_timeout`` is half the interval), and fails otherwise, also
    when it could not even be sent because the previous one is still stuck. After ``count``
    consecutive failures (judged at ``t_k + probe_timeout``) the host is unhealthy and every
    call in flight to it is aborted. Probing stops when no call is overdue; the failure count
    restarts from zero with the next schedule and after any success.

    Immutable; an :class:`~sturdydb.plugin_api.ImmutableRecord` rather than a frozen
    dataclass, whose definition would cost every fresh process's first connect.
    """

    __slots__ = ("count", "disposal", "enabled", "grace", "interval", "probe_timeout")

    enabled: bool
    grace: float
    interval: float
    count: int
    disposal: float
    probe_timeout: float

    def __init__(self, enabled: bool, grace: float, interval: float, count: int, disposal: float,
                 probe_timeout: float) -> None:
        self._set(enabled=enabled, grace=grace, interval=interval, count=count, disposal=disposal,
                  probe_timeout=probe_timeout)

    @classmethod
    def from_props(cls, props: Properties) -> DetectionRule:
        grace_ms = int(props.get("failure_detection_time_ms"))
        interval_ms = int(props.get("failure_detection_interval_ms"))
        count = int(props.get("failure_detection_count"))
        disposal_ms = int(props.get("monitor_disposal_time_ms"))
        # The specs' minimums already ran at connect time; these are the cross-field checks.
        probe_timeout_ms = interval_ms / 2
        if probe_timeout_ms < _MIN_PROBE_TIMEOUT_MS:  # pragma: no cover - interval minimum is 100
            raise ConfigurationError(
                f"failure_detection_interval_ms={interval_ms} leaves probes less than "
                f"{_MIN_PROBE_TIMEOUT_MS} ms to answer; use at least {2 * _MIN_PROBE_TIMEOUT_MS}"
            )
        return cls(
            enabled=bool(props.get("failure_detection_enabled")),
            grace=grace_ms / 1000,
            interval=interval_ms / 1000,
            count=count,
            disposal=disposal_ms / 1000,
            probe_timeout=probe_timeout_ms / 1000,
        )

    # -- the rule's worst cases -------------------------------------------------------
    def worst_case_from_call_start(self) -> float:
        """Latest detection, measured from the start of a call to a host silent from the start.

        Probe 1 starts at the grace time, fails at ``+ probe_timeout``; the count-th failure is
        judged ``(count - 1)`` intervals later.
        """
        return self.grace + (self.count - 1) * self.interval + self.probe_timeout

    def worst_case_after_grace(self) -> float:
        """Latest detection, measured from the outage, when probing was already running.

        The outage may begin just after a probe succeeded: the first failing probe starts up to
        one interval later.
        """
        return self.count * self.interval + self.probe_timeout

    def worst_case_from_outage(self, outage_after_call_start: float) -> float:
        """Latest detection measured from an outage that began this long after the call did."""
        # The first failing probe is the first one sent at or after the outage, and probe 1 is
        # sent at the grace time (a probe sent just before the outage may fail too: earlier).
        late = max(0.0, outage_after_call_start - self.grace)
        first_failing = self.grace + math.ceil(late / self.interval - 1e-9) * self.interval
        detected = first_failing + (self.count - 1) * self.interval + self.probe_timeout
        return detected - outage_after_call_start

    def key(self) -> tuple[float, int]:
        """What makes two connections' probing identical (the grace time is per call)."""
        return (self.interval, self.count)


def monitoring_properties(props: Properties) -> dict[str, Any]:
    """The ``monitoring-`` family of ``props`` with the prefix removed."""
    return props.with_prefix(MONITORING_PREFIX)
