"""Internal connection pools: idle physical connections per host, reused by switches.

With ``read_write_pools`` on, the connection that a switch leaves (the writer's while the
application reads, the reader's while it writes) is returned here instead of being kept by
that one application connection, and a switch takes an idle connection of the host it
wants before opening one. So switching costs no connect once the pools are warm, also for a
new application connection, and reads of many connections spread over the readers.

A pool is keyed by the host and the driver keywords the connection was opened with (user,
database, options: two applications with different credentials never share a connection).
Each idle connection carries the session state that was applied to it (:class:`Tracked`);
a borrower whose session would leave some of that state in place (it never set the field)
does not get it, so one application connection's autocommit, isolation level or read-only
mode never leaks into another's. Session settings changed with SQL that sturdydb does not
track (variables, temporary tables) stay on a pooled connection, as with any pool.

No thread: expired connections are closed when their pool is next used, and every idle
connection at :func:`sturdydb.release_resources`. Pools of a host that failed, or of a writer
that stopped being the writer, are closed by the plugins' topology hooks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from sturdydb.plugin_api import SessionState, on_release, register_process_state

if TYPE_CHECKING:
    from collections.abc import Hashable

    from sturdydb.plugin_api import DriverDialect

__all__ = ["ConnectionPools", "Tracked", "bring_to", "connection_pools"]

log = logging.getLogger("sturdydb.read_write")

_FIELDS = tuple(f.name for f in fields(SessionState))


@dataclass
class Tracked:
    """One physical connection and the session state known to be applied to it.

    ``applied`` holds the fields sturdydb set on it (``None``: left as the connection opened
    with the same keywords has it). ``key`` is its pool's key, ``None`` when it is not poolable.
    """

    conn: Any
    url: str
    applied: SessionState
    #: Holds the driver keywords, password included: never in a repr.
    key: Hashable | None = field(default=None, repr=False)
    idle_since: float = 0.0

    def reusable_for(self, session: SessionState) -> bool:
        """Whether every field applied to it is one that ``session`` sets again."""
        applied = self.applied
        return all(getattr(applied, f) is None or getattr(session, f) is not None for f in _FIELDS)


def bring_to(driver: DriverDialect, tracked: Tracked, session: SessionState) -> None:
    """Apply to ``tracked`` only the fields of ``session`` that differ from what it has.

    A switch back and forth between two connections then costs no round trip for session
    state that did not change (MySQL's setters are statements).
    """
    applied = tracked.applied
    diff = SessionState()
    changed = False
    for name in _FIELDS:
        want = getattr(session, name)
        if want is not None and getattr(applied, name) != want:
            setattr(diff, name, want)
            changed = True
    if changed:
        driver.apply_session_state(tracked.conn, diff)
        for name in _FIELDS:
            value = getattr(diff, name)
            if value is not None:
                setattr(applied, name, value)


class ConnectionPools:
    """Every pool of the process, keyed by (host ``url``, driver keywords)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[Hashable, deque[tuple[Tracked, DriverDialect]]] = {}
        self._released_hook = False
        #: How many connections were taken from a pool / opened because none fit (for tests,
        #: benchmarks and ``stats()``).
        self.hits = 0
        self.misses = 0

    def take(self, key: Hashable, session: SessionState, idle_timeout: float) -> Tracked | None:
        """An idle connection of ``key`` usable for ``session``, or ``None``."""
        stale: list[tuple[Tracked, DriverDialect]] = []
        found: Tracked | None = None
        now = time.monotonic()
        with self._lock:
            queue = self._idle.get(key)
            while queue:
                tracked, driver = queue.pop()  # the most recently used: the warmest
                if now - tracked.idle_since > idle_timeout or not tracked.reusable_for(session):
                    stale.append((tracked, driver))
                    continue
                try:
                    closed = driver.is_closed(tracked.conn)
                except Exception:
                    closed = True
                if closed:
                    stale.append((tracked, driver))
                    continue
                found = tracked
                break
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
        for tracked, driver in stale:
            driver.close_quietly(tracked.conn)
        return found

    def give(self, tracked: Tracked, driver: DriverDialect, size: int, idle_timeout: float) -> None:
        """Return ``tracked`` (not in a transaction) to its pool, or close it when full."""
        key = tracked.key
        if key is None:
            driver.close_quietly(tracked.conn)
            return
        now = time.monotonic()
        tracked.idle_since = now
        closing: list[tuple[Tracked, DriverDialect]] = []
        with self._lock:
            if not self._released_hook:
                on_release(self.close_all)
                self._released_hook = True
            queue = self._idle.setdefault(key, deque())
            while queue and now - queue[0][0].idle_since > idle_timeout:
                closing.append(queue.popleft())
            if len(queue) < size:
                queue.append((tracked, driver))
            else:
                closing.append((tracked, driver))
        for old, old_driver in closing:
            old_driver.close_quietly(old.conn)

    def close_host(self, url: str) -> int:
        """Close every idle connection to ``url`` (a failed host, a demoted writer)."""
        closing: list[tuple[Tracked, DriverDialect]] = []
        with self._lock:
            for key in [k for k, q in self._idle.items() if q and q[0][0].url == url]:
                closing.extend(self._idle.pop(key))
        for tracked, driver in closing:
            driver.close_quietly(tracked.conn)
        if closing:
            log.info("closed %d pooled connection(s) to %s", len(closing), url)
        return len(closing)

    def close_all(self) -> None:
        with self._lock:
            queues = list(self._idle.values())
            self._idle.clear()
        for queue in queues:
            for tracked, driver in queue:
                driver.close_quietly(tracked.conn)

    def forget(self) -> None:
        """After ``fork()``: the parent's connections are not the child's to close."""
        with self._lock:
            self._idle.clear()
            self._released_hook = False
            self.hits = self.misses = 0

    def reset(self) -> None:
        self.close_all()
        self.forget()

    def stats(self) -> dict[str, int]:
        """``host:port`` -> idle connections pooled for it (all keys together)."""
        counts: dict[str, int] = {}
        with self._lock:
            for queue in self._idle.values():
                for tracked, _ in queue:
                    counts[tracked.url] = counts.get(tracked.url, 0) + 1
        return counts


connection_pools = ConnectionPools()
register_process_state("sturdydb_read_write.pools", connection_pools.reset, after_fork=connection_pools.forget)
