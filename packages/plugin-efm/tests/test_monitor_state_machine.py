"""Host monitors driven by fake hosts: when they probe, when they abort, how they live and die."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest
from efm_fakes import FakeHost, Harness, rule

from sturdydb_efm.monitor import HostMonitor


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    h.close()


def monitor_of(h: Harness) -> HostMonitor:
    (monitor,) = h.service.monitors()
    return monitor


def test_no_probe_is_sent_while_no_call_is_past_the_grace_time(harness: Harness) -> None:
    slot = harness.slot(rule(grace=0.5, interval=0.2))
    for _ in range(5):  # short calls only
        harness.begin(slot)
        time.sleep(0.05)
        harness.end(slot)
    time.sleep(0.6)
    assert harness.host.probes == 0
    assert harness.host.connects == 1, "the monitoring connection is opened ahead, once"
    harness.begin(slot)
    time.sleep(0.9)
    harness.end(slot)
    assert harness.host.connects == 1
    assert harness.host.probes >= 2, "a call past its grace time is probed every interval"
    assert not harness.aborted(slot)


def test_a_frozen_host_aborts_every_call_in_flight_to_it_and_only_those(harness: Harness) -> None:
    r = rule(grace=0.2, interval=0.2, count=2)
    long_call, young_call, idle = harness.slot(r), harness.slot(r), harness.slot(r)
    other = harness.slot(r, host=FakeHost("db-2"))
    harness.begin(long_call)
    harness.begin(other)
    harness.host.state = "frozen"
    time.sleep(0.25)
    harness.begin(young_call)  # in flight but not yet past its grace time at detection
    elapsed = harness.wait_aborted(long_call)
    assert elapsed is not None
    assert harness.aborted(young_call)
    assert not harness.aborted(idle)
    assert not harness.aborted(other), "another host's calls are not touched"
    monitor = next(m for m in harness.service.monitors() if m.host == harness.host.info)
    assert monitor.detections == 1
    assert monitor.aborted_calls == 2


def test_detection_never_comes_before_the_rule_allows(harness: Harness) -> None:
    r = rule(grace=0.3, interval=0.2, count=3)
    slot = harness.slot(r)
    harness.host.state = "frozen"
    started = harness.begin(slot)
    assert slot.conn.aborted.wait(10)
    detected = time.monotonic() - started
    assert detected >= r.worst_case_from_call_start() - 0.02


def test_a_prober_stuck_in_connect_does_not_delay_the_verdict() -> None:
    # libpq cannot time a connect out in under 2 s: the prober is stuck that long in every
    # reconnect, yet the judge fails each probe at its own deadline.
    h = Harness(FakeHost(connect_timeout=5.0))
    try:
        slot = h.slot(rule(grace=0.1, interval=0.2, count=3))
        h.host.state = "frozen"  # no monitoring connection yet: the first probe must connect
        h.begin(slot)
        elapsed = h.wait_aborted(slot, timeout=4.0)
        assert elapsed is not None, "detection waited for the stuck connect"
    finally:
        h.close()


def test_a_slow_host_that_answers_within_the_probe_timeout_is_never_declared_dead(harness: Harness) -> None:
    slot = harness.slot(rule(grace=0.1, interval=0.2, count=1))  # probes have 100 ms to answer
    harness.host.latency = 0.06
    harness.begin(slot)
    time.sleep(1.5)
    harness.end(slot)
    assert not harness.aborted(slot)
    assert harness.host.probes >= 5
    assert monitor_of(harness).failed_probes == 0


def test_a_server_that_answers_with_an_error_is_alive(harness: Harness) -> None:
    slot = harness.slot(rule(grace=0.1, interval=0.2, count=1))
    harness.host.state = "rejecting"
    harness.begin(slot)
    time.sleep(0.8)
    harness.end(slot)
    assert not harness.aborted(slot)
    assert harness.host.probes >= 2


def test_a_refused_host_is_detected_too(harness: Harness) -> None:
    slot = harness.slot(rule(grace=0.1, interval=0.2, count=2))
    harness.host.state = "refusing"
    harness.begin(slot)
    assert harness.wait_aborted(slot) is not None


def test_one_monitor_and_connection_per_host_for_many_connections(harness: Harness) -> None:
    r = rule(grace=0.05, interval=0.2, count=3)
    slots = [harness.slot(r) for _ in range(300)]
    slots += [harness.slot(r, host=FakeHost("db-2")) for _ in range(200)]
    for s in slots:
        harness.begin(s)
    time.sleep(0.5)
    stats = harness.service.stats()
    assert stats["monitors"] == 2
    assert stats["threads"] == 2
    assert stats["monitoring_connections"] == 2
    assert stats["slots"] == 500
    assert harness.host.connects == 1


def test_different_probe_settings_get_their_own_monitor(harness: Harness) -> None:
    harness.slot(rule(interval=0.2))
    harness.slot(rule(interval=0.2, grace=5.0))  # grace is per call: same monitor
    harness.slot(rule(interval=0.4))
    assert harness.service.stats()["monitors"] == 2


def test_a_monitor_stops_after_the_disposal_time_and_the_next_call_starts_a_new_one(harness: Harness) -> None:
    r = rule(grace=0.1, interval=0.2, disposal=0.3)
    slot = harness.slot(r)
    harness.begin(slot)
    time.sleep(0.2)
    harness.end(slot)
    first = monitor_of(harness)
    assert first.thread is not None
    first.thread.join(5)
    assert not first.thread.is_alive()
    assert harness.service.stats()["monitors"] == 0
    assert slot.monitor is None, "the slot is detached so its next call re-attaches"
    assert first.conn is None
    harness.service.attach(slot)  # what the plugin does when it finds the slot detached
    assert monitor_of(harness) is not first


def test_a_call_in_flight_prevents_disposal(harness: Harness) -> None:
    slot = harness.slot(rule(grace=5.0, interval=0.2, disposal=0.2))
    harness.begin(slot)
    time.sleep(0.8)
    assert monitor_of(harness).thread is not None
    assert slot.monitor is monitor_of(harness)


def test_the_monitor_restarts_after_an_unexpected_error(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    slot = harness.slot(rule(grace=0.1, interval=0.2, count=2))
    monitor = monitor_of(harness)
    deadline = time.monotonic() + 5
    while monitor.conn is None and time.monotonic() < deadline:  # past the warm-up connect
        time.sleep(0.01)
    original = HostMonitor._scan
    failures = iter([True])

    def broken_once(self: HostMonitor, now: float) -> tuple[bool, float | None, float]:
        if next(failures, False):
            raise RuntimeError("injected failure")
        return original(self, now)

    monkeypatch.setattr(HostMonitor, "_scan", broken_once)
    with monitor._cond:
        monitor._cond.notify_all()
    time.sleep(0.4)
    assert monitor.restarts == 1
    harness.host.state = "frozen"
    harness.begin(slot)
    assert harness.wait_aborted(slot) is not None, "detection works after the restart"


def test_a_dead_thread_is_restarted_by_the_next_attach(harness: Harness) -> None:
    slot = harness.slot(rule(grace=0.1))
    monitor = monitor_of(harness)
    monitor.stopping = True  # make the thread exit as if it had died
    with monitor._cond:
        monitor._cond.notify_all()
    assert monitor.thread is not None
    monitor.thread.join(5)
    monitor.stopping = False
    harness.service.attach(slot)
    assert monitor.thread.is_alive()


def test_release_stops_everything_without_waiting_for_a_stuck_probe(harness: Harness) -> None:
    slot = harness.slot(rule(grace=0.05, interval=5.0, count=3))
    harness.begin(slot)
    time.sleep(0.2)  # connected and probing
    monitor = monitor_of(harness)
    harness.host.state = "frozen"
    time.sleep(5.1)  # the next probe is sent and hangs
    began = time.monotonic()
    harness.service.release()
    assert time.monotonic() - began < 0.5
    assert monitor.thread is not None
    monitor.thread.join(5)
    assert not monitor.thread.is_alive()
    assert slot.monitor is None
    assert harness.service.stats()["monitors"] == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_starts_with_fresh_monitors(harness: Harness) -> None:
    slot = harness.slot(rule(grace=0.05, interval=0.2))
    harness.begin(slot)
    time.sleep(0.3)
    parent_monitor = monitor_of(harness)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            fresh = harness.service.stats()["monitors"] == 0 and slot.monitor is None
            child = harness.service.attach(slot)
            started = threading.Event()
            child_ok = fresh and child is not parent_monitor and child.thread is not None
            started.set()
            os.write(write, b"1" if child_ok and child.thread.is_alive() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"
    assert parent_monitor.conn is not None, "the child left the parent's monitoring connection alone"
    assert not parent_monitor.conn.closed
