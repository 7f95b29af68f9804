"""A real failover on the local Aurora-like cluster produces the documented spans and metrics.

The writer is killed under a connection with ``plugins="otel,failover"``; the application's
next read gets ``FailoverSuccessError``. The captured telemetry must then tell the whole
story with the right attributes: the failed host reported down, the topology naming the new
writer, the reconnect, the failover span (old and new writer, outcome, duration), the
failover metrics, and call latency on both writers; and nowhere the password or a literal.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from otel_capture import Capture

import sturdydb
from sturdydb_testing import Cluster

LITERAL = "otel-literal-5f3a"


def _driver(cluster: Cluster) -> Any:
    if cluster.engine == "pg":
        import psycopg

        return psycopg.Connection.connect
    import mysql.connector

    return mysql.connector.connect


def _attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_writer_failover_produces_the_documented_spans_and_metrics(aurora_cluster: Cluster,
                                                                   capture: Capture) -> None:
    cluster = aurora_cluster
    system = "postgresql" if cluster.engine == "pg" else "mysql"
    old = cluster.writer
    assert old is not None
    extra = {"use_pure": True} if cluster.engine == "mysql" else {}
    conn = sturdydb.connect(_driver(cluster), cluster.conninfo(), plugins="otel,failover", autocommit=True,
                            failover_timeout_sec=60, connect_timeout=3, **extra)
    cur = conn.cursor()
    cur.execute(f"SELECT '{LITERAL}'")
    cur.fetchall()
    assert conn.context.host.host == old.host
    # As the failover scenarios do: cut the writer off, let the replicas catch up, kill it
    # (then its address refuses connections, like a crashed host) and promote a replica.
    cluster.blackhole(old)
    cluster.wait_for_replication(timeout=20)
    before = len(cluster.events)
    future = cluster.failover_in_background(old_writer="kill")
    deadline = time.monotonic() + 30
    while not any(e.kind == "kill" and e.instance_name == old.name for e in cluster.events[before:]):
        assert time.monotonic() < deadline, "the failover did not start"
        time.sleep(0.005)
    cluster.restore(old)
    error: BaseException | None = None
    deadline = time.monotonic() + 90
    while error is None:
        assert time.monotonic() < deadline, "no failover error reached the application"
        try:
            cur.execute(f"SELECT '{LITERAL}'")
            cur.fetchall()
        except sturdydb.FailoverError as exc:
            error = exc
        time.sleep(0.02)
    new = future.result(timeout=90)
    assert isinstance(error, sturdydb.FailoverSuccessError)  # a read: safe to run again
    cur.execute(f"SELECT '{LITERAL}'")  # on the new writer
    cur.fetchall()
    conn.close()

    # The failover span: old and new writer, outcome, duration, what was interrupted.
    (failover,) = capture.spans("sturdydb.failover")
    f = _attrs(failover)
    assert f["db.system"] == system
    assert f["sturdydb.failover.outcome"] == "success"
    assert f["sturdydb.failover.old_host"] == f"{old.host}:{old.port}" or f["sturdydb.failover.old_host"].startswith(old.host)
    assert f["sturdydb.failover.new_host"].split(":")[0] == new.host
    assert f["error.type"] == "FailoverSuccessError"
    assert f["db.response.status_code"] == "08S02"
    assert f["db.operation.name"] == "SELECT"
    assert f["sturdydb.method"] == "Cursor.execute"
    assert f["sturdydb.failover.reason"].startswith("failover:")
    assert f["sturdydb.failover.cause"]  # the driver's error class
    assert 0 < f["sturdydb.failover.duration_s"] < 90
    assert failover.end_time is not None and failover.start_time is not None
    assert failover.end_time > failover.start_time

    # The old writer was reported down by failover, on the application's thread.
    down = [s for s in capture.spans("sturdydb.host_state")
            if _attrs(s)["server.address"] == old.host and _attrs(s)["sturdydb.host.available"] is False]
    assert down and _attrs(down[0])["sturdydb.host.reporter"] == "failover"
    assert down[0].start_time is not None and down[0].start_time <= failover.end_time

    # The topology named the new writer.
    promoted = [s for s in capture.spans("sturdydb.topology_change")
                if any(c.startswith(new.host) and c.endswith("converted_to_writer")
                       for c in _attrs(s)["sturdydb.topology.changes"])]
    assert promoted and _attrs(promoted[0])["sturdydb.topology.writer"].split(":")[0] == new.host

    # The application's connect reached the old writer through the cluster endpoint; the
    # reconnect reached the new writer.
    connects = [_attrs(s) for s in capture.spans("sturdydb.connect")]
    first = next(c for c in connects if c["sturdydb.connect.purpose"] == "connect")
    assert first["server.address"] == old.host
    assert tuple(first["sturdydb.plugins"]) == ("otel", "failover")
    assert any(c["sturdydb.connect.purpose"] == "reconnect" and c["server.address"] == new.host for c in connects)

    # Metrics: one successful failover with its duration, latency on both writers.
    ((count_attrs, count),) = capture.points("sturdydb.failover.count")
    assert count.value == 1 and count_attrs == {"db.system": system, "sturdydb.failover.outcome": "success"}
    ((_, duration),) = capture.points("sturdydb.failover.duration")
    assert duration.count == 1 and duration.sum == pytest.approx(f["sturdydb.failover.duration_s"])
    ok = [a for a, _ in capture.points("db.client.operation.duration") if "error.type" not in a]
    assert {(a["server.address"], a["sturdydb.host.role"]) for a in ok if a.get("db.operation.name") == "SELECT"} \
        >= {(old.host, "writer"), (new.host, "writer")}
    assert any(a["sturdydb.connect.purpose"] == "reconnect" for a, _ in
               capture.points("db.client.connection.create_time"))
    assert any(p.value >= 1 for _, p in capture.points("sturdydb.topology.refreshes"))

    # Nothing secret or literal anywhere.
    assert not [s for s in capture.strings() if cluster.password in s or LITERAL in s]
