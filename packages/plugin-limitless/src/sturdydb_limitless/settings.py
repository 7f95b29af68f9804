"""The ``limitless`` properties (the reference's names and defaults) and one connection's reading of them.

Two of the reference's properties are used here as their names say, where the reference
differs: ``limitless_get_transaction_router_retry_interval_ms`` is milliseconds (the reference
sleeps that many seconds), and ``limitless_max_retries_ms`` is the time budget for retrying a
connect on other routers (the reference counts it as a number of attempts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sturdydb import PropertySpec

if TYPE_CHECKING:
    from sturdydb.plugin_api import Properties

__all__ = ["CODE", "MONITOR_PREFIX", "PROPERTIES", "ROUTER_QUERY", "LimitlessSettings", "router_weight"]

CODE = "limitless"
MONITOR_PREFIX = "limitless-router-monitor-"

#: What Aurora PostgreSQL Limitless answers with every transaction router and its load (0..1).
ROUTER_QUERY = "SELECT router_endpoint, load FROM pg_catalog.aurora_limitless_router_endpoints()"

PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("limitless_transaction_router_monitor_interval_ms", int, 7500,
                 "How often the shard group's monitor reads the routers and their load.",
                 owner=CODE, unit="ms", minimum=100),
    PropertySpec("limitless_transaction_router_monitor_disposal_time_ms", int, 600000,
                 "The monitor stops (and the router list is forgotten) after this long without a "
                 "connect to its shard group; the next connect starts it again.",
                 owner=CODE, unit="ms", minimum=1000),
    PropertySpec("limitless_wait_for_transaction_router_info", bool, True,
                 "When no router list is known yet (the first connect of the process), read it "
                 "through the first connection and connect to a chosen router. false: keep the "
                 "first connection and let the monitor read the list in the background.",
                 owner=CODE),
    PropertySpec("limitless_get_transaction_router_retry_interval_ms", int, 300,
                 "Pause between two reads of the router list when a read fails or is empty.",
                 owner=CODE, unit="ms", minimum=0),
    PropertySpec("limitless_get_transaction_router_max_retries", int, 5,
                 "How many times a connect re-reads a failed or empty router list before it keeps "
                 "the connection it has.", owner=CODE, minimum=0),
    PropertySpec("limitless_max_retries_ms", int, 7500,
                 "Time budget for a connect that fails on its chosen router: other routers are "
                 "tried, highest weight first, each once, until one accepts or the budget is spent.",
                 owner=CODE, unit="ms", minimum=0),
    PropertySpec(MONITOR_PREFIX, str, None,
                 "Properties for the router monitor's connection only, for example "
                 "`limitless-router-monitor-connect_timeout=2`. Never passed to the application's "
                 "connection.", owner=CODE, prefix=True),
)


def router_weight(load: Any) -> int:
    """The reference's rule: ``10 - floor(load * 10)``, clamped to 1..10; nonsense loads weigh 1."""
    try:
        value = float(load)
    except (TypeError, ValueError):
        return 1
    if not 0.0 <= value <= 1.0:
        return 1
    return max(1, min(10, 10 - int(value * 10)))


@dataclass(frozen=True)
class LimitlessSettings:
    """One connection's limitless settings, in seconds."""

    interval: float
    disposal: float
    wait_for_routers: bool
    read_retry_interval: float
    read_retries: int
    connect_budget: float
    monitor_props: dict[str, Any]

    @classmethod
    def from_props(cls, props: Properties) -> LimitlessSettings:
        return cls(
            interval=int(props.get("limitless_transaction_router_monitor_interval_ms")) / 1000,
            disposal=int(props.get("limitless_transaction_router_monitor_disposal_time_ms")) / 1000,
            wait_for_routers=bool(props.get("limitless_wait_for_transaction_router_info")),
            read_retry_interval=int(props.get("limitless_get_transaction_router_retry_interval_ms")) / 1000,
            read_retries=int(props.get("limitless_get_transaction_router_max_retries")),
            connect_budget=int(props.get("limitless_max_retries_ms")) / 1000,
            monitor_props=props.with_prefix(MONITOR_PREFIX),
        )
