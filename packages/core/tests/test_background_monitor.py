"""The core's background-monitor helper: lazy start, restart with backoff, stop, fork, release.

No timing assertions: waits have generous timeouts only so that a bug fails instead of hanging.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import pytest

import sturdydb
from sturdydb._monitor_thread import BackgroundMonitor

WAIT = 10.0


def _until(condition: Callable[[], bool]) -> bool:
    done = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return True
        done.wait(0.01)
    return condition()


def test_nothing_runs_until_start_and_the_thread_is_a_named_daemon() -> None:
    ran = threading.Event()
    monitor = BackgroundMonitor("sturdydb-test-lazy", ran.set)
    assert monitor.thread is None and not monitor.running
    assert not any(t.name == "sturdydb-test-lazy" for t in threading.enumerate())
    assert monitor.start()
    assert ran.wait(WAIT)
    assert monitor.thread is not None
    assert monitor.thread.name == "sturdydb-test-lazy" and monitor.thread.daemon


def test_start_while_running_does_nothing_and_start_after_the_body_returned_runs_it_again() -> None:
    release = threading.Event()
    runs: list[int] = []

    def body() -> None:
        runs.append(1)
        release.wait(WAIT)

    monitor = BackgroundMonitor("sturdydb-test-again", body)
    assert monitor.start()
    assert _until(lambda: len(runs) == 1)
    assert not monitor.start()  # alive: no second thread
    release.set()
    assert monitor.thread is not None
    monitor.thread.join(WAIT)
    assert monitor.start()
    assert _until(lambda: len(runs) == 2)


def test_an_error_restarts_the_body_with_a_growing_capped_backoff(caplog: pytest.LogCaptureFixture) -> None:
    errors: list[BaseException] = []
    calls: list[int] = []
    done = threading.Event()

    def body() -> None:
        calls.append(1)
        if len(calls) <= 4:
            raise RuntimeError(f"failure {len(calls)}")
        done.set()

    monitor = BackgroundMonitor("sturdydb-test-restart", body, on_error=errors.append,
                                backoff=0.01, max_backoff=0.04, description="the test monitor")
    with caplog.at_level(logging.ERROR, "sturdydb.monitor"):
        monitor.start()
        assert done.wait(WAIT)
    assert monitor.restarts == 4
    assert [str(e) for e in errors] == ["failure 1", "failure 2", "failure 3", "failure 4"]
    delays = [r.getMessage().rsplit(" in ", 1)[1] for r in caplog.records if "restarting" in r.getMessage()]
    assert delays == ["0.01 s", "0.02 s", "0.04 s", "0.04 s"]
    assert all("the test monitor failed" in r.getMessage() for r in caplog.records)


def test_stop_never_waits_for_a_stuck_body_and_a_bounded_stop_does() -> None:
    stuck = threading.Event()
    exits: list[int] = []

    def body() -> None:
        stuck.wait(WAIT)  # a driver call on a frozen host: deaf to stop()

    monitor = BackgroundMonitor("sturdydb-test-stuck", body, on_exit=lambda: exits.append(1))
    monitor.start()
    assert monitor.stop() is False  # returned at once, the thread still runs
    assert monitor.stopping and monitor.running
    stuck.set()
    assert monitor.stop(timeout=WAIT) is True
    assert exits == [1]


def test_a_cooperative_body_ends_on_stop_and_a_stopped_monitor_stays_stopped() -> None:
    monitor: BackgroundMonitor

    def body() -> None:
        while not monitor.wait(0.01):
            pass

    monitor = BackgroundMonitor("sturdydb-test-cooperative", body)
    monitor.start()
    assert monitor.stop(timeout=WAIT)
    assert not monitor.start()
    assert not monitor.running


def test_an_error_during_stop_does_not_restart_the_body() -> None:
    calls: list[int] = []
    monitor: BackgroundMonitor

    def body() -> None:
        calls.append(1)
        monitor.stop()
        raise RuntimeError("failed while stopping")

    monitor = BackgroundMonitor("sturdydb-test-stop-error", body, backoff=0.01)
    monitor.start()
    assert monitor.thread is not None
    monitor.thread.join(WAIT)
    assert calls == [1]


def test_release_resources_stops_running_monitors() -> None:
    monitor: BackgroundMonitor

    def body() -> None:
        while not monitor.wait(0.01):
            pass

    monitor = BackgroundMonitor("sturdydb-test-release", body)
    monitor.start()
    sturdydb.release_resources()
    assert monitor.stopping
    assert monitor.thread is not None
    monitor.thread.join(WAIT)
    assert not monitor.running


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_forgets_the_thread_and_can_start_its_own() -> None:
    monitor: BackgroundMonitor

    def body() -> None:
        while not monitor.wait(0.01):
            pass

    monitor = BackgroundMonitor("sturdydb-test-fork", body)
    monitor.start()
    parent_thread = monitor.thread
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, never run pytest machinery
        ok = monitor.thread is None and not monitor.running and not monitor.stopping
        ok = ok and monitor.start() and monitor.thread is not None and monitor.thread.is_alive()
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    seen = os.read(read, 4)
    os.close(read)
    os.waitpid(pid, 0)
    assert seen == b"1"
    assert monitor.thread is parent_thread and monitor.running  # the parent's is untouched
    monitor.stop(timeout=WAIT)
