"""A suspected writer makes the topology monitor doubt it: one round of probes, never more often.

The core reports a host *suspected* (``sturdydb_host_suspected``) when a call on it passes its
``socket_timeout``; the failover plugin hands that to the cluster's monitor
(``TopologyMonitor.doubt``), which queries the writer at once and probes the other hosts beside
it. These tests run against the local servers (two names for one server, so the writer stays
healthy and answers): the probe threads are recorded instead of started, to see which thread
starts them and for which hosts. The frozen-writer case is in the integration tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import sturdydb
from sturdydb import HostInfo
from sturdydb_failover import monitor as monitor_module
from sturdydb_failover.monitor import TopologyMonitor

Open = Callable[..., sturdydb.Connection]
Spawned = list[tuple[str, str]]


def _steady_monitor(open_conn: Open, monkeypatch: pytest.MonkeyPatch) -> tuple[
        sturdydb.Connection, TopologyMonitor, HostInfo, Spawned]:
    """A connection whose monitor polls once a minute, and a record of the probes it starts."""
    conn = open_conn(autocommit=True, topology_refresh_ms=60000, cluster_topology_high_refresh_rate_ms=60000)
    monitor = conn.context.plugin_state["failover"].monitor
    assert isinstance(monitor, TopologyMonitor)
    writer = monitor.wait_for_writer(10)
    assert writer is not None
    spawned: Spawned = []

    def record(host: HostInfo, epoch: int) -> None:
        spawned.append((host.url, threading.current_thread().name))

    monkeypatch.setattr(monitor, "_spawn_probe", record)
    return conn, monitor, writer, spawned


def _until(condition: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_a_suspected_writer_is_probed_beside_and_its_answer_ends_the_round(
    open_conn: Open, monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn, monitor, writer, spawned = _steady_monitor(open_conn, monkeypatch)
    other = next(h for h in conn.context.topology.hosts if h.url != writer.url)
    conn.context.topology.report_host_suspected(writer, "a call exceeded socket_timeout=1s")
    assert (monitor.doubts, monitor.last_doubt_reason) == (1, "a call exceeded socket_timeout=1s")
    _until(lambda: spawned and monitor.doubts_dismissed == 1, "the round did not start or end")
    # Started by the launcher thread, not by the reporting one (here the test's thread; in
    # production a sturdydb-cancel thread or the watchdog thread, which must never wait).
    assert spawned == [(other.url, f"sturdydb-topology-launcher-{monitor.cluster_id}")]
    assert monitor.writer == writer and monitor.doubt_wins == 0
    cur = conn.cursor()
    cur.execute("SELECT 1")
    assert cur.fetchall() == [(1,)]


def test_doubt_rounds_start_at_most_every_minimum_gap(open_conn: Open, monkeypatch: pytest.MonkeyPatch) -> None:
    conn, monitor, writer, spawned = _steady_monitor(open_conn, monkeypatch)
    topology = conn.context.topology
    topology.report_host_suspected(writer, "first")
    _until(lambda: monitor.doubts_dismissed == 1, "the healthy writer did not end the round")
    monkeypatch.setattr(monitor_module, "DOUBT_MIN_GAP_SECONDS", 3600.0)
    for _ in range(5):  # a stream of slow statements on a healthy writer
        topology.report_host_suspected(writer, "again")
    assert (monitor.doubts, monitor.last_doubt_reason) == (1, "first")
    monkeypatch.setattr(monitor_module, "DOUBT_MIN_GAP_SECONDS", 0.0)
    topology.report_host_suspected(writer, "after the gap")
    assert (monitor.doubts, monitor.last_doubt_reason) == (2, "after the gap")
    _until(lambda: len(spawned) == 2, "the second round started no probe")


def test_only_the_writer_or_a_host_the_topology_does_not_know_is_doubted(
    open_conn: Open, monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn, monitor, writer, _ = _steady_monitor(open_conn, monkeypatch)
    topology = conn.context.topology
    other = next(h for h in topology.hosts if h.url != writer.url)
    topology.report_host_suspected(other, "a reader was slow")
    assert monitor.doubts == 0
    # An endpoint name (not an instance of the topology) may lead to the writer.
    topology.report_host_suspected(HostInfo("endpoint.local.test", writer.port), "slow through an endpoint")
    assert monitor.doubts == 1


def test_a_doubt_round_skips_a_host_whose_probe_could_not_log_in(
    open_conn: Open, monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn, monitor, writer, spawned = _steady_monitor(open_conn, monkeypatch)
    other = next(h for h in conn.context.topology.hosts if h.url != writer.url)
    monitor._gave_up[other.url] = time.monotonic()  # as _give_up records a refused login
    monitor.doubt(writer, "test")
    assert monitor.doubts == 1
    _until(lambda: monitor.doubts_dismissed == 1, "the healthy writer did not end the round")
    assert spawned == []
