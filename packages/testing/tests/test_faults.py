"""Each fault has the effect it claims on a raw driver (no sturdydb in the way)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from conftest import DRIVER_ERRORS, instance_id_sql, query, raw_connect

from sturdydb_testing import Cluster, Instance, InstanceState

# Generous bounds: they only tell "failed at once" from "waited for the timeout".
TIMEOUT = 3


def _query_in_thread(conn: Any, sql: str) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["rows"] = query(conn, sql)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_a_killed_instance_refuses_new_connections_at_once(aurora_cluster: Cluster) -> None:
    reader = aurora_cluster.readers[0]
    conn = raw_connect(aurora_cluster, reader)
    aurora_cluster.kill(reader)
    assert not reader.running and reader.process is not None and not reader.process.alive()
    began = time.monotonic()
    with pytest.raises(DRIVER_ERRORS):
        raw_connect(aurora_cluster, reader, timeout=TIMEOUT * 3)
    assert time.monotonic() - began < TIMEOUT
    with pytest.raises(DRIVER_ERRORS):
        query(conn, "SELECT 1")
    assert any(e.kind == "kill" and e.instance_name == reader.name for e in aurora_cluster.events)


def test_a_frozen_instance_accepts_tcp_but_never_answers(aurora_cluster: Cluster) -> None:
    reader = aurora_cluster.readers[0]
    conn = raw_connect(aurora_cluster, reader)
    aurora_cluster.freeze(reader)
    try:
        began = time.monotonic()
        with pytest.raises(DRIVER_ERRORS):
            raw_connect(aurora_cluster, reader, timeout=1)
        assert time.monotonic() - began >= 0.9  # it waited for the client's own timeout
        thread, outcome = _query_in_thread(conn, "SELECT 1")
        thread.join(1.0)
        assert thread.is_alive() and not outcome
    finally:
        aurora_cluster.thaw(reader)
    thread.join(TIMEOUT * 3)
    assert outcome.get("rows") == [(1,)]
    conn.close()


def test_a_blackholed_instance_holds_calls_until_restored(aurora_cluster: Cluster) -> None:
    reader = aurora_cluster.readers[0]
    conn = raw_connect(aurora_cluster, reader)
    aurora_cluster.blackhole(reader)
    try:
        began = time.monotonic()
        with pytest.raises(DRIVER_ERRORS):
            raw_connect(aurora_cluster, reader, timeout=1)
        assert time.monotonic() - began >= 0.9
        thread, outcome = _query_in_thread(conn, "SELECT 2")
        thread.join(1.0)
        assert thread.is_alive() and not outcome
        # The server itself is fine: only the network path is cut.
        assert reader.running
    finally:
        aurora_cluster.restore(reader)
    thread.join(TIMEOUT * 3)
    assert outcome.get("rows") == [(2,)]
    conn.close()


def test_reset_aborts_current_connections_but_not_new_ones(aurora_cluster: Cluster) -> None:
    reader = aurora_cluster.readers[0]
    conn = raw_connect(aurora_cluster, reader)
    assert query(conn, "SELECT 1") == [(1,)]
    assert aurora_cluster.reset_connections(reader) >= 1
    with pytest.raises(DRIVER_ERRORS):
        query(conn, "SELECT 1")
    fresh = raw_connect(aurora_cluster, reader)
    assert query(fresh, instance_id_sql(aurora_cluster))[0][0] == reader.name
    fresh.close()


def test_added_latency_delays_every_round_trip(aurora_cluster: Cluster) -> None:
    reader = aurora_cluster.readers[0]
    conn = raw_connect(aurora_cluster, reader)
    aurora_cluster.add_latency(reader, 0.3)
    began = time.monotonic()
    assert query(conn, "SELECT 1") == [(1,)]
    assert time.monotonic() - began >= 0.3
    aurora_cluster.restore(reader)
    conn.close()


def test_refused_instance_rejects_new_connections_and_keeps_old_ones(aurora_cluster: Cluster) -> None:
    reader = aurora_cluster.readers[0]
    conn = raw_connect(aurora_cluster, reader)
    aurora_cluster.refuse_connections(reader)
    with pytest.raises(DRIVER_ERRORS):
        raw_connect(aurora_cluster, reader, timeout=TIMEOUT)
    assert query(conn, "SELECT 1") == [(1,)]
    aurora_cluster.restore(reader)
    raw_connect(aurora_cluster, reader).close()
    conn.close()


def test_heal_brings_back_a_killed_writer_in_place(aurora_cluster: Cluster, killed_writer: Instance) -> None:
    assert killed_writer.state is InstanceState.KILLED
    aurora_cluster.heal()
    assert killed_writer.running and killed_writer.is_writer
    conn = raw_connect(aurora_cluster, killed_writer)
    assert query(conn, instance_id_sql(aurora_cluster))[0][0] == killed_writer.name
    conn.close()


def test_the_frozen_writer_fixture_freezes_the_writer(pg_cluster: Cluster, frozen_writer: Instance) -> None:
    assert frozen_writer is pg_cluster.writer
    with pytest.raises(DRIVER_ERRORS):
        raw_connect(pg_cluster, frozen_writer, timeout=1)


def test_events_are_stamped_in_order(aurora_cluster: Cluster) -> None:
    reader = aurora_cluster.readers[0]
    before = time.monotonic()
    aurora_cluster.add_latency(reader, 0.01)
    aurora_cluster.restore(reader)
    events = [e for e in aurora_cluster.events if e.monotonic >= before]
    assert [(e.kind, e.instance_name) for e in events] == [("latency", reader.name), ("restore", reader.name)]
    assert events[0].monotonic <= events[1].monotonic and events[0].wall_time > 0
