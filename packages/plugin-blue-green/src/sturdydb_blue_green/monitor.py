"""One shared status monitor per Blue/Green deployment, and the state every connection reads.

A :class:`Deployment` (one per ``bg_id`` in the process) owns a :class:`BackgroundMonitor`
thread, started by the first connection that uses it and stopped at
:func:`sturdydb.release_resources`. The thread reads the status metadata from one instance of
each side (blue and green), merges the phases, and publishes three things that connections
read without a lock:

- ``phase``: the latest phase either side reports;
- ``holding``: true while the switchover is in progress; calls and connects wait on the
  deployment's condition until it is false again (:meth:`Deployment.wait_until_released`);
- ``switch_epoch``: bumped once per switchover when it passes into post-processing (green
  promoted and renamed). A connection opened at an earlier epoch is on a host that the
  switchover demoted or dropped, and is moved before its next call.

The routes (which names are blue or green, and green's addresses) are learned only while the
names are the pre-switchover ones (until post-processing, when RDS renames) and kept through
the switchover; they are dropped when the metadata disappears (the deployment was deleted).

Polling: ``bg_interval_baseline_ms`` without a deployment or after it completed,
``bg_interval_increased_ms`` while it exists, ``bg_interval_high_ms`` from preparation until
completion (the reference's three rates).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sturdydb.plugin_api import BackgroundMonitor, bounded, on_release, register_process_state
from sturdydb_blue_green.status import (
    STATUS_QUERIES,
    Phase,
    Routes,
    StatusRow,
    build_routes,
    parse_rows,
    phase_of,
    resolve_address,
)

if TYPE_CHECKING:
    import asyncio

    from sturdydb import HostInfo
    from sturdydb.plugin_api import DriverDialect
    from sturdydb_blue_green.settings import Settings

__all__ = ["Deployment", "StatusSource", "deployment", "deployments"]

log = logging.getLogger("sturdydb.bg")

#: Opens a status-monitoring connection to a host (autocommit, the monitoring properties).
Opener = Callable[["HostInfo"], Any]


class StatusSource:
    """How the monitor reaches the servers: the first connection's opener and driver."""

    def __init__(self, opener: Opener, driver: DriverDialect, first_host: HostInfo, query_timeout: float) -> None:
        self.opener = opener
        self.driver = driver
        self.first_host = first_host
        self.query_timeout = query_timeout


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _NoMetadata(Exception):
    """The server answered, but has no Blue/Green status (no deployment, or an engine without it)."""


class Deployment:
    """The shared view of one Blue/Green deployment; see the module docs."""

    def __init__(self, bg_id: str, resolve: Callable[[str, int | None], HostInfo | None] = resolve_address) -> None:
        self.bg_id = bg_id
        self.phase = Phase.NOT_CREATED
        self.holding = False
        self.switch_epoch = 0
        self.routes = Routes()
        self.polls = 0
        self.settings: Settings | None = None
        self._resolve = resolve
        self._source: StatusSource | None = None
        self._cond = threading.Condition()
        # One status read at a time: the monitor thread's and a connection's (:meth:`refresh`)
        # share the status connections.
        self._poll_lock = threading.Lock()
        self._reads_begun = 0
        self._hurry = False  # refresh() asks the monitor thread to read again now
        self._conns: dict[str, Any] = {}
        self._queries: dict[str, str] = {}
        self._rows_key: tuple[StatusRow, ...] = ()
        self._vanishing = False
        self._answering = True
        #: (loop, future) of async connections' waits, woken with the condition (under its lock).
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()
        self.monitor = BackgroundMonitor(
            f"sturdydb-bg-{bg_id}", self._run, on_error=self._drop_all, description=f"Blue/Green status monitor {bg_id!r}"
        )

    def __repr__(self) -> str:
        return f"<Deployment {self.bg_id} {self.phase.name} epoch={self.switch_epoch} holding={self.holding}>"

    # ------------------------------------------------------------------ use
    def attach(self, source: StatusSource, settings: Settings) -> None:
        """Start the monitor (once) with the first connection's way of reaching the servers."""
        with self._cond:
            if self._source is None or not self._answering:
                # The first connection's way in; replaced while the servers it leads to do
                # not answer (they may be gone), so the newest connection's host is tried.
                self._source = source
                self.settings = settings
        self.monitor.start()

    def wait_for_first_status(self, timeout: float) -> bool:
        """Wait until the monitor has read the status once (for tests and cautious applications)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.polls > 0, timeout)

    def wait_until_released(self, timeout: float) -> bool:
        """Wait while the switchover is in progress; whether it ended within ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: not self.holding, timeout)

    def wait_for_switch(self, epoch: int, timeout: float) -> bool:
        """Wait until a switchover after ``epoch`` has happened; whether it did within ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: self.switch_epoch > epoch, timeout)

    async def until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """The async form of the waits above: awaits on the caller's event loop, never blocks it.

        Whether ``predicate`` (read under the condition's lock) became true within ``timeout``.
        The monitor thread wakes the awaiting task through its loop when the state changes.
        """
        import asyncio  # here: a sync application never imports asyncio for this plugin

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self._cond:
                if predicate():
                    return True
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                waiter = (loop, loop.create_future())
                self._async_waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter[1], remaining)
            except asyncio.TimeoutError:
                pass
            finally:
                with self._cond:
                    self._async_waiters.discard(waiter)

    def _notify(self) -> None:
        """Wake every waiter, sync and async (called with the condition's lock held)."""
        self._cond.notify_all()
        for loop, future in self._async_waiters:
            try:
                loop.call_soon_threadsafe(_settle, future)
            except RuntimeError:  # that loop is closed: nobody awaits there any more
                pass

    # ------------------------------------------------------------------ publishing
    def publish(self, rows: list[StatusRow]) -> None:
        """Take a status read (both sides' rows merged) as the deployment's new state."""
        phase = phase_of(rows)
        with self._cond:
            old = self.phase
            if phase is Phase.NOT_CREATED and old is not Phase.NOT_CREATED and not self._vanishing:
                # A deployment disappears for good only when it is deleted; one empty read
                # (a metadata update seen half-way) must not drop the routes mid-switchover.
                self._vanishing = True
                self.polls += 1
                self._notify()
                return
            self._vanishing = False
            if phase is Phase.NOT_CREATED:
                self.routes = Routes()  # no deployment (any more): nothing to route
            elif phase <= Phase.IN_PROGRESS:  # the names change only at post-processing
                key = tuple(rows)
                if key != self._rows_key:
                    self.routes = build_routes(rows, self._resolve)
                    self._rows_key = key
            if phase >= Phase.POST and Phase.CREATED <= old < Phase.POST and self.routes.roles:
                self.switch_epoch += 1
                log.info("Blue/Green deployment %r switched over: connections move to green", self.bg_id)
            self.holding = phase is Phase.IN_PROGRESS and bool(self.routes.roles)
            if phase is not old:
                log.info("Blue/Green deployment %r: phase %s -> %s", self.bg_id, old.name, phase.name)
            self.phase = phase
            self.polls += 1
            self._notify()

    def release(self) -> None:
        """Stop the monitor and let every held call go (``release_resources``, tests)."""
        self.monitor.stop()
        with self._cond:
            self.holding = False
            self._notify()
        self._drop_all(None)

    # ------------------------------------------------------------------ the monitor thread
    def _interval(self) -> float:
        settings = self.settings
        assert settings is not None
        if Phase.PREPARATION <= self.phase <= Phase.POST or self._vanishing:
            return settings.high_interval
        if self.phase is Phase.CREATED:
            return settings.increased_interval
        return settings.baseline_interval

    def _run(self) -> None:
        while not self.monitor.stopping:
            self.poll()
            # Woken early by release() (it notifies) and by refresh(): a read on a connection's
            # behalf may have found the switchover begun, and then the high rate applies now.
            with self._cond:
                self._cond.wait_for(lambda: self.monitor.stopping or self._hurry, self._interval())
                self._hurry = False

    def refresh(self) -> None:
        """Read the status now, on the caller's thread, unless a newer read happens meanwhile.

        For a connection whose call blue refused or dropped before the monitor's next poll: the
        switchover may have begun (RDS blocks blue as soon as it is in progress). Waits up to
        one status query's bound for a read already running (the monitor's); the read itself is
        bounded as the monitor's are (``blue-green-monitoring-*``).
        """
        source = self._source
        if source is None:
            return
        asked = self._reads_begun
        if not self._poll_lock.acquire(timeout=source.query_timeout):
            return
        try:
            # A read that began after the call failed saw what the call saw, or later; one that
            # was already running may have read before blue was blocked: read again then.
            if self._reads_begun == asked:
                self._poll_locked()
        finally:
            self._poll_lock.release()
        with self._cond:
            self._hurry = True
            self._notify()

    def poll(self) -> None:
        """Read the status from each side once and publish it (the monitor's loop body)."""
        with self._poll_lock:
            self._poll_locked()

    def _poll_locked(self) -> None:
        self._reads_begun += 1
        source = self._source
        if source is None:
            return
        rows: list[StatusRow] = []
        answered = False
        hosts = list(self.routes.status_hosts)
        if not hosts or not self._answering:
            hosts.append(source.first_host)  # no routes yet, or their hosts stopped answering
        for host in hosts:
            try:
                rows += self._read(source, host)
            except _NoMetadata:
                answered = True
            except Exception as exc:
                log.debug("Blue/Green status read from %s failed: %s", host.url, exc)
                self._drop(host)
            else:
                answered = True
        self._answering = answered
        if answered:
            self.publish(rows)

    def _read(self, source: StatusSource, host: HostInfo) -> list[StatusRow]:
        conn = self._conns.get(host.url)
        if conn is not None:
            try:
                return self._query(source, host, conn)
            except Exception:
                # A kept connection can fail in ways that look like a missing object (a
                # killed session's error packet): only a fresh connection's answer counts.
                self._drop(host)
        conn = self._conns[host.url] = source.opener(host)
        return self._query(source, host, conn)

    def _query(self, source: StatusSource, host: HostInfo, conn: Any) -> list[StatusRow]:
        driver = source.driver
        queries = STATUS_QUERIES.get(driver.database_family, ())
        known = self._queries.get(host.url)
        for sql in (known,) if known else queries:
            def run(sql: str = sql) -> list[Any]:
                cursor = conn.cursor()
                try:
                    cursor.execute(sql)
                    return list(cursor.fetchall())
                finally:
                    cursor.close()

            try:
                found = bounded(driver, conn, source.query_timeout, run)
            except Exception as exc:
                if driver.is_network_error(exc):
                    raise
                continue  # this server has no such object: try the next query
            self._queries[host.url] = sql
            return parse_rows(found)
        raise _NoMetadata(host.url)

    def _drop(self, host: HostInfo) -> None:
        conn = self._conns.pop(host.url, None)
        source = self._source
        if conn is not None and source is not None:
            source.driver.close_quietly(conn)

    def _drop_all(self, _exc: BaseException | None) -> None:
        source = self._source
        conns, self._conns = self._conns, {}
        if source is not None:
            for conn in conns.values():
                source.driver.close_quietly(conn)


_deployments: dict[str, Deployment] = {}
_lock = threading.Lock()


def deployment(bg_id: str) -> Deployment:
    """The process's :class:`Deployment` for ``bg_id`` (created on first use, not started)."""
    with _lock:
        found = _deployments.get(bg_id)
        if found is None:
            found = _deployments[bg_id] = Deployment(bg_id)
        return found


def deployments() -> list[Deployment]:
    with _lock:
        return list(_deployments.values())


def _reset() -> None:
    with _lock:
        found = list(_deployments.values())
        _deployments.clear()
    for dep in found:
        dep.release()


def _after_fork() -> None:
    # The parent's monitor threads and connections do not exist here: forget them unclosed.
    global _lock
    _lock = threading.Lock()
    _deployments.clear()


register_process_state("sturdydb_blue_green.monitor", _reset, after_fork=_after_fork)
# release_resources stops the monitors; the deployments go with them, so that a later connect
# starts a fresh monitor instead of finding a stopped one.
on_release(_reset)
