"""Failover with read/write splitting: a reader killed under a read is replaced by another
reader, and a writer failover while the connection reads leaves writes on the new writer,
each acknowledged write exactly once; each through the four drivers (``every_driver``)."""

from __future__ import annotations

import pytest
from rw_helpers import connect, insert, new_table, verify_writes, wait_for, where

import sturdydb
from sturdydb_testing import Cluster
from sturdydb_testing.drivers import Driver
from sturdydb_testing.pytest_plugin import every_driver


@every_driver
def test_a_reader_killed_under_a_read_is_replaced_by_another_reader(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    conn = connect(aurora_cluster, driver=dbapi_driver)
    try:
        table = new_table(conn)
        assert insert(conn, aurora_cluster, table, 1) == writer.name
        conn.read_only = True
        first = where(conn, aurora_cluster)
        others = {r.name for r in aurora_cluster.readers if r.name != first}
        assert first in {r.name for r in aurora_cluster.readers} and others
        cur = conn.cursor()
        aurora_cluster.kill(first)
        with pytest.raises(sturdydb.FailoverSuccessError):
            cur.execute(f"SELECT count(*) FROM {table}")  # a read: safe to run again
        cur.execute(f"SELECT count(*) FROM {table}")
        assert list(cur.fetchall()) == [(1,)]
        assert where(conn, aurora_cluster) in others  # another reader, not the writer
        assert conn.read_only
        conn.read_only = False
        assert insert(conn, aurora_cluster, table, 2) == writer.name
        conn.read_only = True
        assert where(conn, aurora_cluster) in others
    finally:
        conn.close()
    verify_writes(aurora_cluster, table, [1, 2], {writer.name})


@every_driver
def test_a_reader_killed_under_a_read_is_transparent_with_retried_reads(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver, failover_retry_reads=True)
    try:
        table = new_table(conn)
        conn.read_only = True
        first = where(conn, aurora_cluster)
        cur = conn.cursor()  # before the kill: mysql-connector's cursor() pings the server
        aurora_cluster.kill(first)
        # A plain SELECT is a read by failover's rule (a function call might write): re-run.
        cur.execute(f"SELECT count(*) FROM {table}")
        assert list(cur.fetchall()) == [(0,)]
        assert where(conn, aurora_cluster) in {r.name for r in aurora_cluster.readers if r.name != first}
    finally:
        conn.close()


@every_driver
def test_writes_reach_the_new_writer_after_a_failover_while_reading(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    old = aurora_cluster.writer
    assert old is not None
    conn = connect(aurora_cluster, driver=dbapi_driver, failover_retry_reads=True, topology_refresh_ms=500)
    try:
        table = new_table(conn)
        assert insert(conn, aurora_cluster, table, 1) == old.name
        conn.read_only = True
        assert where(conn, aurora_cluster) != old.name
        # A crashed writer whose acknowledged commits reached the replicas (as Aurora's storage).
        aurora_cluster.blackhole(old)
        aurora_cluster.wait_for_replication(timeout=20)
        new = aurora_cluster.failover()
        aurora_cluster.restore(old)
        cur = conn.cursor()
        cur.execute(f"SELECT count(*) FROM {table}")  # reads go on (re-run once if interrupted)
        assert list(cur.fetchall()) == [(1,)]
        topology = conn.context.topology
        wait_for(lambda: topology.writer is not None and topology.writer.host == new.host,
                 what="the monitor to see the new writer")
        conn.read_only = False
        assert insert(conn, aurora_cluster, table, 2) == new.name
        assert where(conn, aurora_cluster) == new.name
    finally:
        conn.close()
    verify_writes(aurora_cluster, table, [1, 2], {old.name, new.name})


@every_driver
def test_a_reader_killed_while_a_read_runs_fails_over_to_another_reader(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    import threading

    writer = aurora_cluster.writer
    assert writer is not None
    conn = connect(aurora_cluster, driver=dbapi_driver)
    try:
        conn.read_only = True
        first = where(conn, aurora_cluster)
        others = {r.name for r in aurora_cluster.readers if r.name != first}
        cur = conn.cursor()
        killer = threading.Timer(0.5, aurora_cluster.kill, args=(first,))
        killer.start()
        slow = "SELECT pg_sleep(5)" if aurora_cluster.engine == "pg" else "SELECT SLEEP(5)"
        try:
            # Failover's rule cannot prove a function call read-only, so the outcome may be
            # "unknown" (08007) rather than "not applied": both mean the connection moved on.
            with pytest.raises((sturdydb.FailoverSuccessError, sturdydb.StatementOutcomeUnknownError)):
                cur.execute(slow)
        finally:
            killer.join()
        assert where(conn, aurora_cluster) in others
        conn.read_only = False
        assert where(conn, aurora_cluster) == writer.name
    finally:
        conn.close()
