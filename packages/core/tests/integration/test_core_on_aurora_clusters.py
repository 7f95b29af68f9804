"""The core against real local Aurora-compatible clusters (``sturdydb-testing``).

Dialect detection, topology and role queries with the reference SQL on emulated Aurora and
RDS Multi-AZ DB clusters,
``abort_connection`` against a server frozen with SIGSTOP, and ``doctor`` on a cluster.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import mysql.connector
import psycopg
import pytest

import sturdydb
from sturdydb import _dialects as dialects
from sturdydb._cli import doctor_report
from sturdydb._hosts import HostRole

pytestmark = pytest.mark.integration


def _target(cluster: Any) -> Any:
    return psycopg.Connection.connect if cluster.engine == "pg" else mysql.connector.connect


def test_cluster_dialect_is_detected_and_reads_the_real_topology(rds_cluster: Any) -> None:
    """Aurora and RDS Multi-AZ DB clusters on both engines: detected, topology with the writer."""
    dialects.clear_dialect_cache()
    with sturdydb.connect(_target(rds_cluster), plugins="", **rds_cluster.connect_kwargs("cluster")) as conn:
        ctx = conn.context
        family = "pg" if rds_cluster.engine == "pg" else "mysql"
        assert ctx.dialect.code == f"{rds_cluster.kind}-{family}"
        assert ctx.dialect.has_topology
        pattern = ctx.instance_host_pattern()
        assert pattern == rds_cluster.instance_host_pattern
        hosts = ctx.dialect.topology(ctx.driver, ctx.connection, pattern, ctx.host.port)
        writers = [h for h in hosts if h.role is HostRole.WRITER]
        assert [w.host for w in writers] == [rds_cluster.writer.host]
        assert {h.host for h in hosts} == {i.host for i in rds_cluster.instances}
        assert ctx.dialect.instance_id(ctx.driver, ctx.connection) == rds_cluster.writer.name
        assert ctx.dialect.is_writer(ctx.driver, ctx.connection)
        assert not ctx.in_transaction()
    reader = rds_cluster.readers[0]
    with sturdydb.connect(_target(rds_cluster), plugins="", **rds_cluster.connect_kwargs(reader)) as conn:
        ctx = conn.context
        assert ctx.dialect.is_reader(ctx.driver, ctx.connection)
        assert not ctx.dialect.is_writer(ctx.driver, ctx.connection)
        assert ctx.dialect.instance_id(ctx.driver, ctx.connection) == reader.name
        # A standby knows the writer too (from its replication source).
        hosts = ctx.dialect.topology(ctx.driver, ctx.connection, rds_cluster.instance_host_pattern, ctx.host.port)
        assert [h.host for h in hosts if h.role is HostRole.WRITER] == [rds_cluster.writer.host]


def test_abort_unblocks_a_call_on_a_server_frozen_with_sigstop(aurora_cluster: Any) -> None:
    conn = sturdydb.connect(_target(aurora_cluster), plugins="", **aurora_cluster.connect_kwargs("cluster"))
    cur = conn.cursor()
    aurora_cluster.freeze(aurora_cluster.writer)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            cur.execute("SELECT 1")
            cur.fetchall()
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=call, name="test-frozen-call", daemon=True)
    worker.start()
    worker.join(1.0)
    assert worker.is_alive(), "the call should hang on a frozen server"
    started = time.monotonic()
    conn.context.driver.abort_connection(conn.target_connection)
    worker.join(30)
    assert not worker.is_alive()
    assert time.monotonic() - started < 30
    assert errors and conn.context.driver.is_network_error(errors[0])


def test_socket_timeout_ends_a_call_on_a_frozen_server(aurora_cluster: Any) -> None:
    conn = sturdydb.connect(_target(aurora_cluster), plugins="", socket_timeout=1,
                            **aurora_cluster.connect_kwargs("cluster"))
    cur = conn.cursor()
    aurora_cluster.freeze(aurora_cluster.writer)
    with pytest.raises(sturdydb.QueryTimeoutError):
        cur.execute("SELECT 1")
        cur.fetchall()


def test_doctor_shows_the_cluster_topology(aurora_cluster: Any) -> None:
    driver = "psycopg" if aurora_cluster.engine == "pg" else "mysql"
    code, report = doctor_report(driver, aurora_cluster.conninfo("cluster"), {"plugins": "", "connect_timeout": 5})
    assert code == 0, report
    assert report["database_dialect"].startswith("aurora-")
    roles = {h["host"]: h["role"] for h in report["topology"]}
    assert roles[aurora_cluster.writer.host] == "writer"
    assert sorted(roles.values()).count("reader") == len(aurora_cluster.readers)
    assert aurora_cluster.password not in str(report)
