"""The failover plugin's properties and the typed view of them that one connection uses.

Owns the :class:`~sturdydb.PropertySpec` declarations (names, defaults and units follow the
reference wrapper; spellings such as ``strict-writer`` are normalised before validation, where
the reference silently turned them into ``reader_or_writer``), the :class:`FailoverMode`
enumeration with the reference's default rule, and :class:`FailoverSettings`, read once per
connection so the hot path never parses a property.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from sturdydb import ConfigurationError, PropertySpec
from sturdydb.plugin_api import (
    SELECTOR_STRATEGIES,
    ImmutableRecord,
    RdsUrlType,
    classify_host,
    normalize_choice,
)

if TYPE_CHECKING:
    from sturdydb.plugin_api import Properties

__all__ = ["MONITOR_PREFIX", "FailoverMode", "FailoverSettings", "failover_properties"]

OWNER = "failover"
#: Properties with this prefix configure the topology monitor's own connections.
MONITOR_PREFIX = "topology-monitoring-"
#: Defaults of the monitor's connections when the prefix does not set them (as the reference).
MONITOR_CONNECT_TIMEOUT_SEC = 5.0
MONITOR_SOCKET_TIMEOUT_SEC = 5.0


#: Values of ``endpoint_kind``.
ENDPOINT_KINDS = ("auto", "writer", "reader", "instance")


class FailoverMode(enum.Enum):
    """Which kind of instance a failed connection is replaced with."""

    STRICT_WRITER = "strict_writer"
    STRICT_READER = "strict_reader"
    READER_OR_WRITER = "reader_or_writer"


def failover_properties() -> list[PropertySpec]:
    """Every property the ``failover`` plugin owns (core owns the shared topology ones)."""
    return [
        PropertySpec("enable_failover", bool, True,
                     "Fail over on network errors. False leaves the plugin out of the chain.",
                     owner=OWNER),
        PropertySpec("failover_mode", str, None,
                     "strict_writer, strict_reader or reader_or_writer (hyphens accepted). Unset: "
                     "reader_or_writer for a reader cluster endpoint (cluster-ro-), else strict_writer.",
                     owner=OWNER, choices=tuple(m.value for m in FailoverMode),
                     normalize=normalize_choice),
        PropertySpec("failover_timeout_sec", float, 300.0,
                     "How long one failover may take before FailoverFailedError. 0 means exactly one "
                     "connect attempt, to the best host known at that moment.",
                     owner=OWNER, unit="s", minimum=0),
        PropertySpec("failover_cluster_topology_refresh_rate_sec", float, 2.0,
                     "While the writer is unknown, how often a probe connected to a reader re-reads "
                     "the topology through it (a new writer seen there is tried at once).",
                     owner=OWNER, unit="s", minimum=0.01),
        PropertySpec("failover_reader_connect_timeout_sec", float, 30.0,
                     "Connect timeout of each attempt to open a reader during reader failover.",
                     owner=OWNER, unit="s", minimum=0),
        PropertySpec("failover_writer_reconnect_interval_sec", float, 2.0,
                     "Pause after a failed attempt to open the writer during writer failover; a "
                     "newly verified writer ends the pause early.",
                     owner=OWNER, unit="s", minimum=0),
        PropertySpec("failover_reader_host_selector_strategy", str, "random",
                     "How reader failover picks among the readers.",
                     owner=OWNER, choices=SELECTOR_STRATEGIES, normalize=normalize_choice),
        PropertySpec("endpoint_kind", str, "auto",
                     "sturdydb only: what the connection's host name is. `writer`: a writer "
                     "cluster endpoint (connects go to the topology's verified writer, as for an "
                     "RDS cluster- name); `reader`: a reader endpoint (a topology reader, as for "
                     "cluster-ro-); `instance`: connect where the name points, never routed; "
                     "`auto`: RDS names by their shape, and any other name or IP address that "
                     "turns out not to be one of the cluster's instances is remembered as an "
                     "endpoint of the kind its first connection reached (writer or reader).",
                     owner=OWNER, choices=ENDPOINT_KINDS, normalize=normalize_choice),
        PropertySpec("reader_initial_connection_host_selector_strategy", str, None,
                     "How a connect through the reader cluster endpoint picks a reader. Unset: "
                     "reader_host_selector_strategy (the reference's initial_connection setting).",
                     owner=OWNER, choices=SELECTOR_STRATEGIES, normalize=normalize_choice),
        PropertySpec("cluster_topology_high_refresh_rate_ms", int, 100,
                     "Topology poll interval on the verified writer while a refresh is requested "
                     "or for 30 s after a new writer was found.",
                     owner=OWNER, unit="ms", minimum=1),
        PropertySpec("failover_probe_interval_ms", int, 20,
                     "sturdydb only: while the writer is unknown, how often each host probe asks "
                     "its host whether it is the writer (the first proven writer wins).",
                     owner=OWNER, unit="ms", minimum=1),
        PropertySpec("enable_connect_failover", bool, False,
                     "Fail over when the first connect of a connection gets a network error (also "
                     "while the new connection is verified). A connect the known topology routed "
                     "to an instance does so anyway.",
                     owner=OWNER),
        PropertySpec("failover_retry_reads", bool, False,
                     "sturdydb only: when a failover interrupts Cursor.execute of a read (outside a "
                     "transaction; a read by the failover README's conservative rule: SELECT, SHOW, "
                     "EXPLAIN, VALUES, TABLE, DESCRIBE, WITH without data-changing words, locking "
                     "clauses or unknown functions), run it once more on the new connection instead "
                     "of raising FailoverSuccessError. Writes are never re-run. With "
                     "mysql-connector, use buffered cursors so a failover cannot interrupt a fetch.",
                     owner=OWNER),
        PropertySpec(MONITOR_PREFIX, str, None,
                     "Properties of the topology monitor's own connections, e.g. "
                     "topology-monitoring-connect_timeout=3 (defaults: 5 s connect, 5 s socket).",
                     owner=OWNER, prefix=True),
    ]


class FailoverSettings(ImmutableRecord):
    """One connection's failover configuration, read and checked once at connect.

    Immutable; an :class:`~sturdydb.plugin_api.ImmutableRecord` rather than a frozen
    dataclass, whose definition would cost a millisecond of every fresh process's first
    connect. ``mode_given`` says whether ``failover_mode`` was set (else a reader endpoint
    implies reader_or_writer).
    """

    __slots__ = (
        "connect_failover",
        "endpoint_kind",
        "high_refresh",
        "mode",
        "mode_given",
        "monitor_kwargs",
        "monitor_props",
        "probe_interval",
        "reader_connect_timeout",
        "reader_strategy",
        "reader_topology_refresh",
        "refresh",
        "retry_reads",
        "timeout",
        "writer_reconnect_interval",
    )

    mode: FailoverMode
    timeout: float
    reader_topology_refresh: float
    reader_connect_timeout: float
    writer_reconnect_interval: float
    reader_strategy: str
    refresh: float
    high_refresh: float
    probe_interval: float
    connect_failover: bool
    retry_reads: bool
    monitor_props: dict[str, Any]
    monitor_kwargs: dict[str, Any]
    endpoint_kind: str
    mode_given: bool

    def __init__(
        self, *, mode: FailoverMode, timeout: float, reader_topology_refresh: float,
        reader_connect_timeout: float, writer_reconnect_interval: float, reader_strategy: str,
        refresh: float, high_refresh: float, probe_interval: float, connect_failover: bool,
        retry_reads: bool, monitor_props: dict[str, Any], monitor_kwargs: dict[str, Any],
        endpoint_kind: str = "auto", mode_given: bool = False,
    ) -> None:
        self._set(mode=mode, timeout=timeout, reader_topology_refresh=reader_topology_refresh,
                  reader_connect_timeout=reader_connect_timeout,
                  writer_reconnect_interval=writer_reconnect_interval, reader_strategy=reader_strategy,
                  refresh=refresh, high_refresh=high_refresh, probe_interval=probe_interval,
                  connect_failover=connect_failover, retry_reads=retry_reads,
                  monitor_props=monitor_props, monitor_kwargs=monitor_kwargs,
                  endpoint_kind=endpoint_kind, mode_given=mode_given)

    @classmethod
    def from_props(cls, props: Properties, initial_host: str) -> FailoverSettings:
        raw_mode = props.get("failover_mode")
        if raw_mode:
            mode = FailoverMode(raw_mode)
        elif classify_host(initial_host) is RdsUrlType.RDS_READER_CLUSTER:
            mode = FailoverMode.READER_OR_WRITER
        else:
            mode = FailoverMode.STRICT_WRITER
        pattern = props.get("cluster_instance_host_pattern")
        if pattern and "?" not in str(pattern):
            raise ConfigurationError(
                f"property 'cluster_instance_host_pattern' must contain '?' where the instance id "
                f"goes (for example '?.abc123.us-east-1.rds.amazonaws.com'), got {pattern!r}"
            )
        high = float(props.get("cluster_topology_high_refresh_rate_ms")) / 1000.0
        # 0 would make the monitor spin; the high rate is the fastest it ever polls.
        refresh = max(float(props.get("topology_refresh_ms")) / 1000.0, high)
        monitor_props: dict[str, Any] = {
            "connect_timeout": MONITOR_CONNECT_TIMEOUT_SEC,
            "socket_timeout": MONITOR_SOCKET_TIMEOUT_SEC,
        }
        monitor_kwargs: dict[str, Any] = {}
        registry = props.registry
        for key, value in props.with_prefix(MONITOR_PREFIX).items():
            if key in registry:
                spec = registry.get(key)
                assert spec is not None
                try:
                    monitor_props[key] = spec.coerce(value)
                except ConfigurationError as exc:
                    raise ConfigurationError(f"{MONITOR_PREFIX}{key}: {exc}") from None
            else:
                monitor_kwargs[key] = value
        return cls(
            mode=mode,
            timeout=float(props.get("failover_timeout_sec")),
            reader_topology_refresh=float(props.get("failover_cluster_topology_refresh_rate_sec")),
            reader_connect_timeout=float(props.get("failover_reader_connect_timeout_sec")),
            writer_reconnect_interval=float(props.get("failover_writer_reconnect_interval_sec")),
            reader_strategy=str(props.get("failover_reader_host_selector_strategy")),
            refresh=refresh,
            high_refresh=high,
            probe_interval=float(props.get("failover_probe_interval_ms")) / 1000.0,
            connect_failover=bool(props.get("enable_connect_failover")),
            retry_reads=bool(props.get("failover_retry_reads")),
            monitor_props=monitor_props,
            monitor_kwargs=monitor_kwargs,
            endpoint_kind=str(props.get("endpoint_kind") or "auto"),
            mode_given=bool(raw_mode),
        )
