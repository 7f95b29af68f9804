"""The router list of each shard group and the one monitor per shard group that keeps it fresh.

A :class:`RouterMonitor` belongs to a shard group (the connection's ``cluster_id``), not to a
connection: every connection of the process to that shard group shares its list and its one
thread (``sturdydb-limitless-<cluster id>``, a daemon started on the first connect, never at
import). The thread reads the routers every ``limitless_transaction_router_monitor_interval_ms``
on its own auxiliary connection, opened through the chain of the latest connection that used
it (so auth plugins supply credentials), and publishes the list with each router's weight. It
stops after ``limitless_transaction_router_monitor_disposal_time_ms`` without a connect (the
list is then forgotten), at :func:`sturdydb.release_resources`, and is gone in a forked child.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from sturdydb import HostInfo, register_process_state
from sturdydb.plugin_api import BackgroundMonitor, HostRole, bounded
from sturdydb_limitless.settings import ROUTER_QUERY, LimitlessSettings, router_weight

if TYPE_CHECKING:
    from sturdydb import ConnectionContext

__all__ = ["RouterMonitor", "monitor_for", "monitors", "read_routers"]

log = logging.getLogger("sturdydb.limitless")


def read_routers(context: ConnectionContext, conn: Any, port: int | None) -> list[HostInfo]:
    """The routers that ``conn`` reports, each weighted by its load (bounded aux query)."""
    driver = context.driver
    timeout = float(context.props.get("auxiliary_query_timeout_sec"))
    rows = bounded(driver, conn, timeout, lambda: driver.query(conn, ROUTER_QUERY))
    return [
        HostInfo(host=str(endpoint), port=port, role=HostRole.WRITER, weight=router_weight(load),
                 host_id=str(endpoint))
        for endpoint, load in rows
        if endpoint
    ]


class RouterMonitor:
    """The shared router list of one shard group and the thread that refreshes it."""

    def __init__(self, cluster_id: str, seed: HostInfo, settings: LimitlessSettings) -> None:
        self.cluster_id = cluster_id
        self.seed = seed
        self.settings = settings
        self._routers: list[HostInfo] = []
        self._cond = threading.Condition()
        self._last_used = time.monotonic()
        self._context: weakref.ReferenceType[ConnectionContext] | None = None
        self._conn: Any = None
        self._driver: Any = None
        #: How many times the list was read by the thread (tests and diagnostics).
        self.reads = 0
        self.thread = BackgroundMonitor(
            f"sturdydb-limitless-{cluster_id}", self._run, on_error=self._drop_connection,
            description=f"limitless router monitor of {cluster_id}",
        )

    def __repr__(self) -> str:
        return f"<RouterMonitor {self.cluster_id} routers={[h.url for h in self._routers]}>"

    @property
    def routers(self) -> list[HostInfo]:
        with self._cond:
            return list(self._routers)

    def publish(self, routers: list[HostInfo]) -> None:
        with self._cond:
            if routers != self._routers:
                log.debug("routers of %s: %s", self.cluster_id,
                          ", ".join(f"{h.url} (weight {h.weight})" for h in routers))
            self._routers = list(routers)
            self._cond.notify_all()

    def use(self, context: ConnectionContext) -> None:
        """A connect to this shard group: keep the monitor (re)started and its credentials fresh."""
        with self._cond:
            self._last_used = time.monotonic()
            self._context = weakref.ref(context)
        self.thread.start()

    def wait_for_routers(self, timeout: float) -> list[HostInfo]:
        with self._cond:
            self._cond.wait_for(lambda: bool(self._routers), timeout)
            return list(self._routers)

    def stop(self) -> None:
        self.thread.stop()

    # -- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self.thread.stopping:
                with self._cond:
                    idle = time.monotonic() - self._last_used
                if idle > self.settings.disposal:
                    log.debug("limitless router monitor of %s unused for %.0f s: stopping", self.cluster_id, idle)
                    self.publish([])
                    return
                self._read_once()
                if self.thread.wait(self.settings.interval):
                    return
        finally:
            self._drop_connection(None)

    def _read_once(self) -> None:
        context = self._context() if self._context is not None else None
        if context is None:
            return  # every connection that used it is gone; disposal follows
        if self._conn is None:
            self._conn = self._open(context)
            self._driver = context.driver
        try:
            routers = read_routers(context, self._conn, self.seed.port)
        except Exception as exc:
            log.debug("limitless router monitor of %s could not read the routers: %s", self.cluster_id, exc)
            self._drop_connection(exc)
            return
        self.reads += 1
        if routers:
            self.publish(routers)

    def _open(self, context: ConnectionContext) -> Any:
        """An auxiliary connection to a live router (the highest weight), else the seed host."""
        registry = context.props.registry
        known: dict[str, Any] = {}
        overrides: dict[str, Any] = {"autocommit": True}
        for name, value in self.settings.monitor_props.items():
            spec = registry.get(name)
            if spec is None or spec.passthrough:
                overrides[name] = value if spec is None else spec.coerce(value)
            if spec is not None:
                known[name] = value
        props = context.props.copy(**known)
        candidates = [*sorted(self.routers, key=lambda h: -h.weight), self.seed]
        last: BaseException | None = None
        for host in candidates:
            try:
                return context.open(host, purpose="auxiliary", props=props, overrides=overrides)
            except Exception as exc:
                last = exc
        assert last is not None
        raise last

    def _drop_connection(self, exc: BaseException | None) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._driver is not None:
            self._driver.close_quietly(conn)


_monitors: dict[str, RouterMonitor] = {}
_lock = threading.Lock()


def monitor_for(context: ConnectionContext, seed: HostInfo, settings: LimitlessSettings) -> RouterMonitor:
    """The shard group's monitor (created on first use; a stopped one is replaced)."""
    key = context.cluster_id
    with _lock:
        found = _monitors.get(key)
        if found is None or found.thread.stopping:
            found = _monitors[key] = RouterMonitor(key, seed, settings)
    return found


def monitors() -> list[RouterMonitor]:
    with _lock:
        return list(_monitors.values())


def _reset() -> None:
    with _lock:
        found = list(_monitors.values())
        _monitors.clear()
    for monitor in found:
        monitor.stop()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    _monitors.clear()


register_process_state("sturdydb_limitless.routers", _reset, after_fork=_after_fork_in_child)
