"""The otel plugin's connect spans, call latency by host role and host verdicts, on the
machine's own PostgreSQL and MariaDB servers."""

from __future__ import annotations

from typing import Any

import mysql.connector
import psycopg
import pytest
from otel_capture import Capture

import sturdydb
from sturdydb.plugin_api import HostInfo
from sturdydb_otel import operation_name

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"
MYSQL: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test",
                         "use_pure": True}


def _connect(engine: str, **props: Any) -> sturdydb.Connection:
    if engine == "pg":
        return sturdydb.connect(psycopg.Connection.connect, PG, plugins="otel", **props)
    return sturdydb.connect(mysql.connector.connect, plugins="otel", **{**MYSQL, **props})


@pytest.mark.parametrize(("engine", "system", "port"), [("pg", "postgresql", 5432), ("mysql", "mysql", 3306)])
def test_connect_span_names_the_host_reached_and_the_plugins(capture: Capture, engine: str, system: str,
                                                              port: int) -> None:
    conn = _connect(engine)
    conn.close()
    (span,) = capture.spans("sturdydb.connect")
    attrs = dict(span.attributes or {})
    assert attrs["db.system"] == system
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == port
    assert attrs["sturdydb.connect.purpose"] == "connect"
    assert tuple(attrs["sturdydb.plugins"]) == ("otel",)
    assert span.end_time is not None and span.start_time is not None and span.end_time >= span.start_time
    ((point_attrs, point),) = capture.points("db.client.connection.create_time")
    assert point.count == 1 and point.sum > 0
    assert point_attrs == {"db.system": system, "sturdydb.connect.purpose": "connect",
                           "server.address": "127.0.0.1", "server.port": port}


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_call_latency_is_recorded_by_method_operation_and_host_role(capture: Capture, engine: str) -> None:
    conn = _connect(engine, autocommit=True)
    cur = conn.cursor()
    for _ in range(3):
        cur.execute("SELECT 42")
        cur.fetchall()
    cur.execute("CREATE TEMPORARY TABLE otel_t (v INT)")
    conn.close()
    points = {(a["sturdydb.method"], a.get("db.operation.name")): (a, p)
              for a, p in capture.points("db.client.operation.duration")}
    attrs, point = points[("Cursor.execute", "SELECT")]
    assert point.count == 3
    assert tuple(point.explicit_bounds)[:4] == (0.0001, 0.00025, 0.0005, 0.001)  # sub-millisecond buckets
    assert attrs["sturdydb.host.role"] == "unknown"  # a plain server has no topology
    assert attrs["server.address"] == "127.0.0.1"
    assert points[("Cursor.execute", "CREATE")][1].count == 1


def test_failed_call_records_its_error_class_only(capture: Capture) -> None:
    conn = _connect("pg", autocommit=True)
    cur = conn.cursor()
    with pytest.raises(psycopg.errors.UndefinedTable):
        cur.execute("SELECT * FROM otel_no_such_table_where_x_eq_secret")
    conn.close()
    failed = [a for a, _ in capture.points("db.client.operation.duration") if "error.type" in a]
    assert failed == [{**failed[0], "error.type": "psycopg.errors.UndefinedTable"}]
    assert not any("otel_no_such_table" in s for s in capture.strings())


def test_failed_connect_span_has_error_status_without_the_message(capture: Capture) -> None:
    with pytest.raises(psycopg.OperationalError):
        sturdydb.connect(psycopg.Connection.connect, "host=127.0.0.1 port=5432 dbname=no_such_db_otel user=postgres",
                         plugins="otel")
    (span,) = capture.spans("sturdydb.connect")
    assert span.status.status_code.name == "ERROR"
    assert span.status.description == "psycopg.OperationalError"
    assert not any("no_such_db_otel" in s for s in capture.strings() if s != "sturdydb.connect")


def test_monitoring_verdict_becomes_a_host_state_span_and_an_abort(capture: Capture) -> None:
    conn = _connect("pg")
    host = HostInfo("127.0.0.1", 5432)
    # What host monitoring does when a host stops answering: the core broadcasts it.
    conn.context.topology.report_host_state(host, False, "no answer to 3 consecutive probes")
    conn.context.topology.report_host_state(host, True, "answering again")
    conn.close()
    spans = capture.spans("sturdydb.host_state")
    assert [dict(s.attributes or {})["sturdydb.host.available"] for s in spans] == [False, True]
    down = dict(spans[0].attributes or {})
    assert down["server.address"] == "127.0.0.1" and down["server.port"] == 5432
    assert down["sturdydb.host.reporter"] == "monitoring"
    assert down["sturdydb.host.reason"] == "no answer to 3 consecutive probes"
    ((abort_attrs, aborts),) = capture.points("sturdydb.monitoring.aborts")
    assert aborts.value == 1 and abort_attrs["server.address"] == "127.0.0.1"
    states = {a["sturdydb.host.available"]: p.value for a, p in capture.points("sturdydb.host.state_changes")}
    assert states == {False: 1, True: 1}


def test_topology_change_span_lists_what_changed(capture: Capture) -> None:
    conn = _connect("pg")
    topology = conn.context.topology
    from sturdydb.plugin_api import HostRole

    topology.update([HostInfo("a.example", 5432, HostRole.WRITER), HostInfo("b.example", 5432, HostRole.READER)])
    topology.update([HostInfo("a.example", 5432, HostRole.READER), HostInfo("b.example", 5432, HostRole.WRITER)])
    conn.close()
    spans = capture.spans("sturdydb.topology_change")
    assert len(spans) == 2
    last = dict(spans[1].attributes or {})
    assert last["sturdydb.topology.writer"] == "b.example:5432"
    assert set(last["sturdydb.topology.changes"]) == {"a.example:5432 converted_to_reader",
                                                      "b.example:5432 converted_to_writer"}
    events = {a["sturdydb.topology.event"]: p.value for a, p in capture.points("sturdydb.topology.changes")}
    assert events == {"host_added": 2, "converted_to_reader": 1, "converted_to_writer": 1}
    ((_, refreshes),) = capture.points("sturdydb.topology.refreshes")
    assert refreshes.value == 2


@pytest.mark.parametrize(("statement", "expected"), [
    ("SELECT 'hunter2' FROM t", "SELECT"),
    ("  insert into t values ('x')", "INSERT"),
    ("/* 'x' */ SELECT 1", None),
    ("'literal' SELECT", None),
    ("", None),
    (b"SELECT 1", None),
    ("WITH x AS (SELECT 1) SELECT * FROM x;", "WITH"),
    ("COMMIT;", "COMMIT"),
])
def test_operation_name_is_the_first_keyword_only(statement: object, expected: str | None) -> None:
    assert operation_name(statement) == expected
