"""The ``aurora_connection_tracker`` plugin: no connection keeps writing to a demoted writer.

Every application connection this process opens is remembered (weakly: a connection that the
application drops is forgotten with it) under the instance it is connected to. When the shared
topology of a cluster names a new writer, every remembered connection still on the old writer
is *aborted*: its socket is shut down, which is safe from any thread and never blocks, so the
next call on it fails with a network error and the failover plugin moves it to the new writer
(a pooled connection that sat idle through the failover does not go on writing to a node that
now refuses writes or, worse, came back as a stale writer). Connections in use by another
thread at that moment fail over the same way.

The topology comes from the failover plugin's monitor (the tracker itself sends no query).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import Plugin, hookimpl, register_process_state
from sturdydb_failover._info import TRACKER

if TYPE_CHECKING:
    from sturdydb import ConnectionContext, ConnectRequest
    from sturdydb.plugin_api import ClusterTopology, DriverDialect, HostEvent

__all__ = ["ConnectionTrackerPlugin", "tracked_connections"]

log = logging.getLogger("sturdydb.failover.tracker")


class _Tracker:
    """Process-wide: instance host -> the physical connections to it; cluster -> last writer.

    The physical connections themselves are remembered (weakly), not the application's
    connection objects: aborting a physical connection on the old writer is right even if its
    application connection has meanwhile moved on, so there is no race with a failover.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_host: dict[str, weakref.WeakKeyDictionary[Any, DriverDialect]] = {}
        self.writers: dict[str, str] = {}

    def add(self, host: str, conn: Any, driver: DriverDialect) -> None:
        with self.lock:
            found = self.by_host.get(host)
            if found is None:
                found = self.by_host[host] = weakref.WeakKeyDictionary()
            try:
                found[conn] = driver
            except TypeError:  # a driver object without weak reference support: not tracked
                pass

    def on_topology(self, topology: ClusterTopology) -> list[tuple[Any, DriverDialect]]:
        """The open connections to invalidate because ``topology`` has a new writer."""
        writer = topology.writer
        if writer is None:
            return []
        with self.lock:
            previous = self.writers.get(topology.cluster_id)
            self.writers[topology.cluster_id] = writer.host.lower()
            if previous is None or previous == writer.host.lower():
                return []
            found = self.by_host.pop(previous, None)
            return list(found.items()) if found is not None else []

    def clear(self) -> None:
        with self.lock:
            self.by_host.clear()
            self.writers.clear()


_tracker = _Tracker()


def _forget_after_fork() -> None:
    # The tracked connections are the parent's: a child must never abort their sockets.
    _tracker.lock = threading.Lock()
    _tracker.clear()


register_process_state("sturdydb_failover.tracker", _tracker.clear, after_fork=_forget_after_fork)


def tracked_connections(host: str) -> list[Any]:
    """The physical connections this process has to ``host`` (for diagnostics and tests)."""
    with _tracker.lock:
        found = _tracker.by_host.get(host.lower())
        conns = list(found.items()) if found is not None else []
    return [conn for conn, driver in conns if not driver.is_closed(conn)]


class ConnectionTrackerPlugin(Plugin):
    """Invalidates this process's connections to a writer that was replaced."""

    code: ClassVar[str] = TRACKER.code
    weight: ClassVar[int] = TRACKER.weight
    in_default_chain: ClassVar[bool] = TRACKER.in_default_chain

    def release_resources(self) -> None:
        _tracker.clear()

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        raw = yield
        if request.purpose != "auxiliary":
            ctx = request.context
            # Inner plugins (failover) may have routed an endpoint to an instance.
            host = ctx.host if request.purpose == "connect" else request.host
            _tracker.add(host.host.lower(), raw, ctx.driver)
        return raw

    @hookimpl
    def sturdydb_connection_changed(self, context: ConnectionContext, old: Any, new: Any) -> None:
        _tracker.add(context.host.host.lower(), new, context.driver)

    @hookimpl
    def sturdydb_host_list_changed(
        self, topology: ClusterTopology, changes: Mapping[str, frozenset[HostEvent]]
    ) -> None:
        stale = _tracker.on_topology(topology)
        if stale:
            log.info("%s is the writer now: aborting %d connection(s) to the old writer",
                     topology.writer, len(stale))
        for conn, driver in stale:
            try:
                driver.abort_connection(conn)
            except Exception:  # a broadcast must not raise
                log.debug("abort of a tracked connection failed", exc_info=True)

