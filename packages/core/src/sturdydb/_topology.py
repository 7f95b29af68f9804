"""The process-wide registry of cluster topologies.

Connections to the same cluster share one :class:`ClusterTopology` (hosts, roles, age), keyed
by ``cluster_id``; when ``cluster_id`` is not given it is derived from the cluster endpoint or
the instance host pattern, so two clusters in one process never share topology by accident.
Whoever reads a fresher topology (the failover plugin's monitor, a connect-time check) calls
:meth:`ClusterTopology.update`, which computes what changed and broadcasts it through the
``sturdydb_host_list_changed`` hook of every pipeline that uses the cluster; whoever concludes
that a host became (un)available (a failed connect, a monitor's verdict) calls
:meth:`ClusterTopology.report_host_state` (or :meth:`~ClusterTopology.mark`), which records it
and broadcasts ``sturdydb_host_state_changed`` the same way; whoever merely suspects a host
(the core, when a call's ``socket_timeout`` passes) calls
:meth:`ClusterTopology.report_host_suspected`, which records nothing and broadcasts
``sturdydb_host_suspected``. The core delivers these hooks itself, whichever plugin detected
the change.

Which pipelines receive them: every plugin chain (:class:`~sturdydb._pipeline.Pipeline`) that
opened a connection to the cluster and implements at least one of these hooks; the
pipeline subscribes itself at connect time (:meth:`ClusterTopology.subscribe`), held weakly, so
a pipeline dropped by a catalog reload stops receiving once it is freed. The contribution
managers of :mod:`~sturdydb._discovery` hold plugin *classes*, not instances: they never receive
broadcasts.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sturdydb._hosts import HostAvailability, HostInfo, HostRole, RdsUrlType, parse_rds_host

try:
    # CPython's built-in BLAKE2: importing hashlib would load OpenSSL, about 1.5 ms of a
    # process's first connect, for the one digest this module takes (a cluster id).
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import blake2b as _blake2b

if TYPE_CHECKING:
    from sturdydb._pipeline import Pipeline
    from sturdydb._properties import Properties

__all__ = ["ClusterTopology", "HostEvent", "TopologyRegistry", "derive_cluster_id", "registry"]

log = logging.getLogger("sturdydb.topology")


class HostEvent(enum.Enum):
    """What happened to one host between two topology snapshots."""

    HOST_ADDED = "host_added"
    HOST_DELETED = "host_deleted"
    CONVERTED_TO_WRITER = "converted_to_writer"
    CONVERTED_TO_READER = "converted_to_reader"
    WENT_UP = "went_up"
    WENT_DOWN = "went_down"


Listener = Callable[["ClusterTopology", dict[str, frozenset[HostEvent]]], None]


def _broadcast(pipelines: list[Pipeline], hook: str, **kwargs: Any) -> None:
    """Call ``hook`` of every pipeline in turn, on this thread; an implementation that raises
    is logged and the broadcast goes on."""
    for pipeline in pipelines:
        try:
            getattr(pipeline.hook, hook)(**kwargs)
        except Exception:
            log.exception("a %s implementation of %s raised", hook, list(pipeline.codes))


class ClusterTopology:
    """The shared, immutable-snapshot view of one cluster's hosts.

    ``hosts`` is replaced as a whole tuple on every update, so readers need no lock.
    """

    def __init__(self, cluster_id: str) -> None:
        self.cluster_id = cluster_id
        self.hosts: tuple[HostInfo, ...] = ()
        self.updated_at: float = 0.0  # time.monotonic() of the last update, 0 = never
        self.instance_host_pattern: str | None = None
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        #: The pipelines that receive this cluster's broadcasts (see the module docstring).
        self._subscribers: weakref.WeakSet[Pipeline] = weakref.WeakSet()
        self.changed = threading.Condition(self._lock)
        self.version = 0

    @property
    def writer(self) -> HostInfo | None:
        for host in self.hosts:
            if host.role is HostRole.WRITER:
                return host
        return None

    @property
    def readers(self) -> tuple[HostInfo, ...]:
        return tuple(h for h in self.hosts if h.role is HostRole.READER)

    def age(self) -> float:
        return float("inf") if not self.updated_at else time.monotonic() - self.updated_at

    def find(self, host: str) -> HostInfo | None:
        """The topology entry whose host name (or id) is ``host``."""
        key = host.lower()
        for h in self.hosts:
            if h.host.lower() == key or (h.host_id is not None and h.host_id.lower() == key):
                return h
        return None

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener not in self._listeners:
                self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def subscribe(self, pipeline: Pipeline) -> None:
        """Deliver this cluster's broadcasts to ``pipeline`` from now on (idempotent, weak)."""
        if pipeline in self._subscribers:  # the common case, without the lock
            return
        with self._lock:
            self._subscribers.add(pipeline)

    def subscribers(self) -> list[Pipeline]:
        with self._lock:
            return list(self._subscribers)

    def update(self, hosts: Iterable[HostInfo]) -> dict[str, frozenset[HostEvent]]:
        """Replace the host list; broadcast what changed; return the changes.

        ``sturdydb_host_list_changed`` reaches every subscribed pipeline, on this thread,
        after the new hosts are visible; an implementation that raises is logged and the
        broadcast goes on.
        """
        new = tuple(hosts)
        with self._lock:
            old = self.hosts
            changes = _diff(old, new)
            self.hosts = new
            self.updated_at = time.monotonic()
            self.version += 1
            listeners = list(self._listeners)
            pipelines = list(self._subscribers)
            self.changed.notify_all()
        if changes:
            log.info("topology of %s changed: %s", self.cluster_id,
                     ", ".join(f"{url} {'+'.join(sorted(e.value for e in events))}"
                               for url, events in sorted(changes.items())),
                     extra={"sturdydb_event": "topology_change", "sturdydb_cluster_id": self.cluster_id,
                            "sturdydb_changes": {url: sorted(e.value for e in events) for url, events in changes.items()},
                            "sturdydb_writer": next((h.url for h in new if h.role is HostRole.WRITER), None)})
            for listener in listeners:
                try:
                    listener(self, changes)
                except Exception:  # a broadcast must never break the updater
                    log.exception("topology listener failed")
            _broadcast(pipelines, "sturdydb_host_list_changed", topology=self, changes=changes)
        return changes

    def mark(self, host: str, availability: HostAvailability, reason: str = "") -> None:
        """Record a host's availability without a topology query (a failed connect, say).

        Broadcasts ``sturdydb_host_state_changed`` like :meth:`report_host_state`.
        """
        found = self.find(host) or HostInfo(host, None)
        self.report_host_state(found, availability is HostAvailability.AVAILABLE, reason)

    def report_host_state(self, host: HostInfo, available: bool, reason: str) -> None:
        """A plugin concluded that ``host`` became (un)available: record and broadcast it.

        The availability is recorded on the topology's entry for the host (when it has one),
        then ``sturdydb_host_state_changed(host, available, reason)`` reaches every subscribed
        pipeline on this thread. Every report is broadcast, also a repeated one: the
        implementations decide what a repeat means.
        """
        availability = HostAvailability.AVAILABLE if available else HostAvailability.UNAVAILABLE
        key = host.host.lower()
        with self._lock:
            self.hosts = tuple(
                h.with_availability(availability) if h.host.lower() == key else h
                for h in self.hosts
            )
            pipelines = list(self._subscribers)
        _broadcast(pipelines, "sturdydb_host_state_changed", host=host.with_availability(availability),
                   available=available, reason=reason)

    def report_host_suspected(self, host: HostInfo, reason: str) -> None:
        """A call on ``host`` gave a first sign that it may not answer: broadcast the suspicion.

        Records nothing and changes no availability (a suspicion is not a verdict): only
        ``sturdydb_host_suspected(topology, host, reason)`` reaches every subscribed pipeline,
        on this thread. An implementation that raises is logged and the broadcast goes on.
        """
        _broadcast(self.subscribers(), "sturdydb_host_suspected", topology=self, host=host, reason=reason)

    def wait_for_change(self, version: int, timeout: float) -> bool:
        """Block until ``self.version`` differs from ``version`` or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.version == version:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)
            return True

    def __repr__(self) -> str:
        return f"<ClusterTopology {self.cluster_id} {[str(h) for h in self.hosts]}>"


def _diff(old: tuple[HostInfo, ...], new: tuple[HostInfo, ...]) -> dict[str, frozenset[HostEvent]]:
    before = {h.host.lower(): h for h in old}
    after = {h.host.lower(): h for h in new}
    changes: dict[str, frozenset[HostEvent]] = {}
    for key, host in after.items():
        prev = before.get(key)
        events: set[HostEvent] = set()
        if prev is None:
            events.add(HostEvent.HOST_ADDED)
        else:
            if prev.role is not host.role:
                if host.role is HostRole.WRITER:
                    events.add(HostEvent.CONVERTED_TO_WRITER)
                elif prev.role is HostRole.WRITER:
                    events.add(HostEvent.CONVERTED_TO_READER)
            if prev.availability is not host.availability:
                events.add(HostEvent.WENT_UP if host.availability is HostAvailability.AVAILABLE
                           else HostEvent.WENT_DOWN)
        if events:
            changes[host.url] = frozenset(events)
    for key, host in before.items():
        if key not in after:
            changes[host.url] = frozenset({HostEvent.HOST_DELETED})
    return changes


def derive_cluster_id(props: Properties, first_host: str | None, port: int | None = None) -> str:
    """``cluster_id`` if given, else a stable id of the cluster that ``first_host`` belongs to.

    Cluster, reader and instance endpoints of one Aurora cluster share the cluster hash and
    region, so they derive the same id; other names use the explicit instance host pattern,
    and failing that the host and port themselves (two clusters behind one address, such as
    tunnels, differ by port).
    """
    explicit = props.get("cluster_id")
    if explicit:
        return str(explicit)
    # Every region of a global database shares one topology: its patterns name them all.
    pattern = props.get("cluster_instance_host_pattern") or props.get("global_cluster_instance_host_patterns")
    if pattern:
        basis = f"pattern:{str(pattern).lower()}"
    elif first_host:
        parsed = parse_rds_host(first_host)
        if parsed.url_type.is_rds and parsed.cluster_hash and parsed.url_type is not RdsUrlType.RDS_PROXY:
            basis = f"rds:{parsed.cluster_hash}.{parsed.region}.{parsed.domain}"
        else:
            basis = f"host:{first_host.lower()}:{port if port is not None else ''}"
    else:
        basis = "unknown"
    return "auto-" + _blake2b(basis.encode(), digest_size=6).hexdigest()


class TopologyRegistry:
    """The process-wide map of ``cluster_id`` to :class:`ClusterTopology`. Tests may ``clear()`` it."""

    def __init__(self) -> None:
        self._clusters: dict[str, ClusterTopology] = {}
        self._lock = threading.Lock()

    def get(self, cluster_id: str) -> ClusterTopology:
        found = self._clusters.get(cluster_id)
        if found is None:
            with self._lock:
                found = self._clusters.get(cluster_id)
                if found is None:
                    found = ClusterTopology(cluster_id)
                    self._clusters[cluster_id] = found
        return found

    def all(self) -> list[ClusterTopology]:
        with self._lock:
            return list(self._clusters.values())

    def clear(self) -> None:
        with self._lock:
            self._clusters.clear()


registry = TopologyRegistry()


def host_from_topology_row(
    instance_id: str, is_writer: bool, pattern: str, default_port: int | None, weight: int = 100,
    replica_lag_ms: float | None = None,
    region: str | None = None,
) -> HostInfo:
    """Build the :class:`HostInfo` of a topology row from the instance host pattern.

    ``replica_lag_ms`` is the row's lag column (readers only; ``max_replica_lag_ms`` uses it).
    """
    template, port = pattern, default_port
    head, sep, tail = pattern.rpartition(":")
    if sep and tail.isdigit():
        template, port = head, int(tail)
    return HostInfo(
        host=template.replace("?", instance_id),
        port=port,
        role=HostRole.WRITER if is_writer else HostRole.READER,
        host_id=instance_id,
        weight=weight,
        replica_lag_ms=None if is_writer else replica_lag_ms,
        region=region,
    )
