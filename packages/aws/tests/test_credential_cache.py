"""The credential cache: expiry, single flight, refresh after a refusal."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
import weakref

import pytest

from sturdydb_aws import CredentialCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_valid_entry_is_reused_until_its_time_to_live_passes() -> None:
    clock = Clock()
    cache: CredentialCache[str, str] = CredentialCache(clock)
    fetched: list[str] = []

    def fetch() -> str:
        fetched.append(f"v{len(fetched)}")
        return fetched[-1]

    first, fresh = cache.get("k", fetch, ttl=10)
    assert (first.value, fresh) == ("v0", True)
    clock.now += 9.9
    again, fresh = cache.get("k", fetch, ttl=10)
    assert (again.value, fresh) == ("v0", False)
    clock.now += 0.2
    later, fresh = cache.get("k", fetch, ttl=10)
    assert (later.value, fresh) == ("v1", True)


def test_concurrent_misses_fetch_once() -> None:
    cache: CredentialCache[str, str] = CredentialCache()
    calls = 0
    gate = threading.Event()

    def fetch() -> str:
        nonlocal calls
        calls += 1
        gate.wait(5)
        return "value"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", fetch, 60)[0].value))
               for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join(5)
    assert calls == 1
    assert results == ["value"] * 8


def test_refresh_reuses_a_value_another_thread_already_refreshed() -> None:
    cache: CredentialCache[str, str] = CredentialCache()
    stale, _ = cache.get("k", lambda: "old", 60)
    new = cache.refresh("k", stale, lambda: "new", 60)
    assert new.value == "new"
    # A second thread that saw the same stale entry must not fetch again.
    again = cache.refresh("k", stale, lambda: "newer", 60)
    assert again is new


def test_entries_never_show_their_value() -> None:
    cache: CredentialCache[str, str] = CredentialCache()
    entry, _ = cache.get("k", lambda: "top-secret-token", 60)
    assert "top-secret-token" not in repr(entry)
    assert "top-secret-token" not in repr(cache)


def test_a_dropped_cache_is_freed_not_kept_alive_by_the_fork_hook() -> None:
    cache: CredentialCache[str, str] = CredentialCache()
    cache.get("k", lambda: "v", 60)
    ref = weakref.ref(cache)
    del cache
    gc.collect()
    assert ref() is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
@pytest.mark.timeout(30)
def test_a_lock_held_by_another_thread_at_fork_is_fresh_in_the_child() -> None:
    caches: list[CredentialCache[str, str]] = [CredentialCache() for _ in range(3)]
    holding, release = threading.Event(), threading.Event()

    def fetch_slowly() -> str:
        holding.set()
        release.wait(10)
        return "v"

    # Another thread is inside a fetch (holding the key's lock) and the registry lock when we fork.
    worker = threading.Thread(target=caches[1].get, args=("k", fetch_slowly, 60), daemon=True)
    worker.start()
    assert holding.wait(5)
    with caches[2]._lock:
        pid = os.fork()
        if pid == 0:  # the child: both locks must be free, or get() would hang here
            signal.alarm(10)  # a hung child ends itself (and fails the test) instead of lingering
            ok = caches[1].get("k", lambda: "child", 60)[0].value == "child"
            ok = ok and caches[2].get("k", lambda: "child", 60)[0].value == "child"
            os._exit(0 if ok else 1)
    release.set()
    worker.join(5)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_report_says_hit_or_miss_and_how_long_the_fetch_took() -> None:
    clock = Clock()
    cache: CredentialCache[str, str] = CredentialCache(clock)
    reports: list[tuple[bool, float]] = []

    def slow_fetch() -> str:
        time.sleep(0.02)
        return "secret-value"

    def report(cached: bool, seconds: float) -> None:
        reports.append((cached, seconds))

    cache.get("k", slow_fetch, 10, report)
    cache.get("k", slow_fetch, 10, report)
    (miss_cached, miss_seconds), hit = reports
    assert miss_cached is False and miss_seconds >= 0.02  # the fetch's own duration
    assert hit == (True, 0.0)
    clock.now += 11  # expired: the next get fetches again
    cache.get("k", slow_fetch, 10, report)
    assert reports[-1][0] is False


def test_refresh_reports_a_fetch_or_the_entry_another_thread_already_refreshed() -> None:
    cache: CredentialCache[str, str] = CredentialCache()
    reports: list[tuple[bool, float]] = []
    stale, _ = cache.get("k", lambda: "old", 60)
    cache.refresh("k", stale, lambda: "new", 60, lambda cached, s: reports.append((cached, s)))
    assert reports[-1][0] is False and reports[-1][1] >= 0.0
    cache.refresh("k", stale, lambda: "newer", 60, lambda cached, s: reports.append((cached, s)))
    assert reports[-1] == (True, 0.0)
    assert cache.lookup("k").value == "new"  # type: ignore[union-attr]
