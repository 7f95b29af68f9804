"""What monitoring must never do, both engines: abort a long healthy query, declare a slow but
answering host dead, or use more than one thread and monitoring connection per host."""

from __future__ import annotations

import threading
import time

import pytest
from efm_scenarios import BackgroundCall, connect, efm_threads, monitor_for, sleep_sql

from sturdydb_efm import service
from sturdydb_testing import Cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_20_second_query_with_a_1_second_grace_time_is_never_aborted(aurora_cluster: Cluster) -> None:
    conn = connect(aurora_cluster)
    assert aurora_cluster.writer is not None
    call = BackgroundCall(conn, sleep_sql(aurora_cluster, 20)).wait(60)
    assert call.error is None, f"aborted: {call.error!r}"
    assert call.elapsed >= 20
    monitor = monitor_for(aurora_cluster.writer.host)
    assert monitor.probes >= 30, "the host was probed all along"
    assert monitor.failed_probes == 0
    assert monitor.detections == 0


def test_a_slow_host_answering_within_the_probe_timeout_is_never_declared_dead(aurora_cluster: Cluster) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    conn = connect(aurora_cluster, writer)
    aurora_cluster.add_latency(writer, 0.15)  # every round trip +150 ms; probes have 250 ms
    try:
        call = BackgroundCall(conn, sleep_sql(aurora_cluster, 6)).wait(60)
    finally:
        aurora_cluster.restore(writer)
    assert call.error is None, f"aborted: {call.error!r}"
    monitor = monitor_for(writer.host)
    assert monitor.probes >= 6
    assert monitor.detections == 0


def test_500_connections_use_one_monitor_thread_and_connection_per_host(aurora_cluster: Cluster) -> None:
    hosts = aurora_cluster.instances
    conns = [connect(aurora_cluster, hosts[i % len(hosts)]) for i in range(500)]
    try:
        calls = [BackgroundCall(c, sleep_sql(aurora_cluster, 3)) for c in conns]
        time.sleep(2.2)  # every call is past its grace time: every host is being probed
        stats = service.stats()
        threads = efm_threads()
        probing = [m for m in service.monitors() if m.schedule.running]
        for call in calls:
            call.wait(60)
        assert all(call.error is None for call in calls)
        assert stats["slots"] == 500
        assert stats["monitors"] == len(hosts)
        assert stats["monitoring_connections"] <= len(hosts)
        assert stats["threads"] <= len(hosts)
        assert len(threads) <= len(hosts)
        assert len(probing) == len(hosts)
    finally:
        for c in conns:
            c.close()
    assert threading.active_count() < 100
