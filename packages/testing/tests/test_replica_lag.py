"""Injected replica lag is real (the replica misses new rows) and shows in the topology's lag column."""

from __future__ import annotations

import time
import uuid
from typing import Any

from conftest import query, raw_connect

from sturdydb_testing import Cluster

TOPOLOGY = {
    "pg": "SELECT server_id, replica_lag_in_msec FROM pg_catalog.aurora_replica_status()",
    "mysql": "SELECT SERVER_ID, REPLICA_LAG_IN_MILLISECONDS FROM information_schema.replica_host_status",
}


def _lags(cluster: Cluster, on: Any = None) -> dict[str, float]:
    conn = raw_connect(cluster, on or cluster.writer)
    try:
        return {str(r[0]): float(r[1] or 0) for r in query(conn, TOPOLOGY[cluster.engine])}
    finally:
        conn.close()


def _wait(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _rows(cluster: Cluster, host: Any, marker: str) -> int:
    conn = raw_connect(cluster, host)
    try:
        return len(query(conn, f"SELECT 1 FROM lag_probe WHERE marker = '{marker}'"))
    finally:
        conn.close()


def test_a_lagging_replica_misses_new_writes_and_reports_its_growing_lag(aurora_cluster: Cluster) -> None:
    lagging, other = aurora_cluster.readers[0], aurora_cluster.readers[1]
    writer_conn = raw_connect(aurora_cluster, aurora_cluster.writer)
    query(writer_conn, "CREATE TABLE IF NOT EXISTS lag_probe (marker VARCHAR(64))")
    aurora_cluster.wait_for_replication()
    aurora_cluster.inject_replica_lag(lagging)
    try:
        marker = uuid.uuid4().hex
        query(writer_conn, f"INSERT INTO lag_probe VALUES ('{marker}')")
        _wait(lambda: _rows(aurora_cluster, other, marker) == 1)
        assert _rows(aurora_cluster, lagging, marker) == 0  # really behind
        _wait(lambda: _lags(aurora_cluster)[lagging.name] > 500)
        assert _lags(aurora_cluster)[other.name] < 500
        # Asked on the lagging replica itself (its topology copy is stale), it still knows.
        assert _lags(aurora_cluster, lagging)[lagging.name] > 500
        assert aurora_cluster.replica_lag_ms(lagging) > 500
    finally:
        aurora_cluster.clear_replica_lag(lagging)
    _wait(lambda: _rows(aurora_cluster, lagging, marker) == 1)  # it catches up
    _wait(lambda: _lags(aurora_cluster)[lagging.name] == 0)
    assert not aurora_cluster.lag.paused
    writer_conn.close()


def test_heal_resumes_every_lagging_replica(aurora_cluster: Cluster) -> None:
    aurora_cluster.inject_replica_lag(aurora_cluster.readers[0])
    aurora_cluster.heal()
    assert not aurora_cluster.lag.paused
    aurora_cluster.wait_for_replication(timeout=20)  # would time out on a paused replica
