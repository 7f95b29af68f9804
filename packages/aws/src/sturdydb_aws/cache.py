"""An expiring, single-flight credential cache.

Connects are the hot path of an auth plugin: a connect that finds a valid credential here
takes one dict lookup and one clock read, no lock and no AWS call. When the credential is
missing or expired, exactly one thread per key produces a new one while the others wait for
it (single flight), so a burst of connects after expiry costs one AWS request, not one each.

Values are never shown: an entry's repr names the key's shape and the expiry only.

``get`` and ``refresh`` take an optional ``report(cached, seconds)`` callback, called once
the caller has its credential (outside every lock): ``cached`` true when the cache answered,
false with the fetch's duration when this call fetched. Auth plugins pass one that forwards
to ``ConnectionContext.report_credentials`` (the ``sturdydb_credentials_obtained``
broadcast), so observability plugins see hits, misses and fetch times, never the value.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sturdydb import register_process_state

__all__ = ["CacheEntry", "CredentialCache", "Report", "TimeToLive"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Every live cache, for the one fork hook below. Weak, so a dropped cache (a plugin instance
# released by reload_catalog) is freed rather than kept alive by the hook.
_caches: weakref.WeakSet[CredentialCache[Any, Any]] = weakref.WeakSet()


def _reset_after_fork() -> None:
    # A lock held by another thread at fork() would stay held forever in the child.
    for cache in list(_caches):
        cache._reset_locks()


# The entries belong to plugin instances (dropped with their chains); only the locks are
# process state, renewed in a forked child by the core's fork handler.
register_process_state("sturdydb_aws.cache", lambda: None, after_fork=_reset_after_fork)

#: Seconds a fetched value stays valid: a number, or a function of the value itself for
#: credentials that carry their own expiry (STS temporary credentials).
TimeToLive = float | Callable[[V], float]

#: ``report(cached, seconds)``: see the module docstring.
Report = Callable[[bool, float], None]


class CacheEntry(Generic[V]):
    """One cached credential and the monotonic time after which it must not be used."""

    __slots__ = ("expires_at", "value")

    def __init__(self, value: V, expires_at: float) -> None:
        self.value = value
        self.expires_at = expires_at

    def __repr__(self) -> str:
        return f"<CacheEntry value=*** expires_at={self.expires_at:.1f}>"


class CredentialCache(Generic[K, V]):
    """Credentials by key, each valid for the time-to-live given when it was fetched."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[K, CacheEntry[V]] = {}
        self._key_locks: dict[K, threading.Lock] = {}
        self._lock = threading.Lock()
        _caches.add(self)

    def _reset_locks(self) -> None:
        self._lock = threading.Lock()
        self._key_locks = {}

    def _key_lock(self, key: K) -> threading.Lock:
        lock = self._key_locks.get(key)
        if lock is None:
            with self._lock:
                lock = self._key_locks.setdefault(key, threading.Lock())
        return lock

    def lookup(self, key: K) -> CacheEntry[V] | None:
        """The valid entry for ``key``, or ``None`` (lock-free)."""
        entry = self._entries.get(key)
        if entry is not None and self._clock() < entry.expires_at:
            return entry
        return None

    def get(self, key: K, fetch: Callable[[], V], ttl: TimeToLive[V],
            report: Report | None = None) -> tuple[CacheEntry[V], bool]:
        """The valid entry for ``key``, fetching it when needed; ``True`` when fetched now."""
        entry = self.lookup(key)
        seconds = -1.0  # stays negative unless this call fetched
        if entry is None:
            with self._key_lock(key):
                entry = self.lookup(key)  # another thread may have fetched it while we waited
                if entry is None:
                    start = time.perf_counter()
                    entry = self._store(key, fetch(), ttl)
                    seconds = time.perf_counter() - start
        fetched = seconds >= 0.0
        if report is not None:
            report(not fetched, seconds if fetched else 0.0)
        return entry, fetched

    def refresh(self, key: K, stale: CacheEntry[V], fetch: Callable[[], V], ttl: TimeToLive[V],
                report: Report | None = None) -> CacheEntry[V]:
        """Replace ``stale`` (a credential the server refused) unless another thread already did."""
        seconds = -1.0
        with self._key_lock(key):
            current = self._entries.get(key)
            if current is None or current is stale or self._clock() >= current.expires_at:
                start = time.perf_counter()
                current = self._store(key, fetch(), ttl)
                seconds = time.perf_counter() - start
        if report is not None:
            report(seconds < 0.0, max(seconds, 0.0))
        return current

    def invalidate(self, key: K, entry: CacheEntry[V] | None = None) -> None:
        """Forget ``key`` (only if it still holds ``entry``, when given)."""
        with self._lock:
            if entry is None or self._entries.get(key) is entry:
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _store(self, key: K, value: V, ttl: TimeToLive[V]) -> CacheEntry[V]:
        seconds = ttl(value) if callable(ttl) else ttl
        entry = CacheEntry(value, self._clock() + seconds)
        self._entries[key] = entry
        return entry

    def __repr__(self) -> str:
        return f"<CredentialCache entries={len(self._entries)}>"
