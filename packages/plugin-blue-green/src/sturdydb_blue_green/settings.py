"""The ``bg`` plugin's properties (the reference wrapper's names and defaults) and their reading.

Kept free of imports beyond ``sturdydb`` so that the cheap ``_info`` module can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sturdydb import PropertySpec

if TYPE_CHECKING:
    from sturdydb.plugin_api import Properties

__all__ = ["CODE", "MONITORING_PREFIX", "PROPERTIES", "Settings"]

CODE = "bg"
MONITORING_PREFIX = "blue-green-monitoring-"

PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("bg_id", str, "1",
                 "Identifies the Blue/Green deployment: connections with the same id share one status "
                 "monitor. Give each deployment the application uses in one process its own id.",
                 owner=CODE),
    PropertySpec("bg_connect_timeout_ms", int, 30000,
                 "How long a new connect is held while a switchover is in progress before it fails "
                 "with SwitchoverInProgressError (nothing was attempted, so it is safe to retry).",
                 owner=CODE, unit="ms", minimum=0),
    PropertySpec("bg_interval_baseline_ms", int, 60000,
                 "Status poll interval when no switchover is announced (no deployment, or completed).",
                 owner=CODE, unit="ms", minimum=10),
    PropertySpec("bg_interval_increased_ms", int, 1000,
                 "Status poll interval while a deployment exists and no switchover has started.",
                 owner=CODE, unit="ms", minimum=10),
    PropertySpec("bg_interval_high_ms", int, 100,
                 "Status poll interval from the switchover's preparation until it is completed: how "
                 "soon the plugin holds traffic and releases it to green.",
                 owner=CODE, unit="ms", minimum=10),
    PropertySpec("bg_switchover_timeout_ms", int, 180000,
                 "How long a call is held while a switchover is in progress before it fails with "
                 "SwitchoverInProgressError (the call was not sent, so it is safe to retry).",
                 owner=CODE, unit="ms", minimum=0),
    PropertySpec("bg_suspend_new_blue_connections", bool, False,
                 "Hold new connects to blue endpoints while the switchover is in progress as well. "
                 "Off: they connect to blue, and their first call is held and moved to green.",
                 owner=CODE),
    PropertySpec(MONITORING_PREFIX, str, None,
                 "Properties for the status monitor's connections only, for example "
                 "`blue-green-monitoring-connect_timeout=5` or `blue-green-monitoring-user=monitor`. "
                 "Never passed to the application's connection. Defaults: connect_timeout 10 s, and "
                 "each status query is bounded by 10 s (`blue-green-monitoring-socket_timeout`).",
                 owner=CODE, prefix=True),
)


@dataclass(frozen=True)
class Settings:
    """The ``bg`` properties of one connection, in seconds."""

    bg_id: str
    connect_timeout: float
    baseline_interval: float
    increased_interval: float
    high_interval: float
    switchover_timeout: float
    suspend_new_blue: bool
    monitoring: tuple[tuple[str, Any], ...]

    @classmethod
    def from_props(cls, props: Properties) -> Settings:
        def seconds(name: str) -> float:
            return float(props.get(name)) / 1000.0

        monitoring = tuple(sorted((k, v) for k, v in props.with_prefix(MONITORING_PREFIX).items() if k))
        return cls(
            bg_id=str(props.get("bg_id") or "1"),
            connect_timeout=seconds("bg_connect_timeout_ms"),
            baseline_interval=seconds("bg_interval_baseline_ms"),
            increased_interval=seconds("bg_interval_increased_ms"),
            high_interval=seconds("bg_interval_high_ms"),
            switchover_timeout=seconds("bg_switchover_timeout_ms"),
            suspend_new_blue=bool(props.get("bg_suspend_new_blue_connections")),
            monitoring=monitoring,
        )
