"""Internal pools reuse physical connections (server session ids and backend counts), and
``srw`` switches between two configured endpoints with role verification; each through the four
drivers (``every_driver``)."""

from __future__ import annotations

from typing import Any

import pytest
from rw_helpers import backend_id, connect, driver_connect, insert, new_table, verify_writes, wait_for, where

import sturdydb
from sturdydb_read_write import ReadWriteSplittingError, connection_pools
from sturdydb_testing import Cluster, Instance
from sturdydb_testing.drivers import Driver
from sturdydb_testing.pytest_plugin import every_driver


def _sessions_on(cluster: Cluster, instance: Instance, user: str) -> int:
    """Client sessions of ``user`` on ``instance``, counted by the server."""
    conn = sturdydb.connect(driver_connect(cluster), cluster.conninfo(instance), plugins="", autocommit=True,
                            **({"use_pure": True} if cluster.engine == "mysql" else {}))
    try:
        cur = conn.cursor()
        if cluster.engine == "pg":
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND pid <> pg_backend_pid()",
                        (user,))
        else:
            cur.execute("SELECT count(*) FROM information_schema.PROCESSLIST WHERE USER = %s AND ID <> CONNECTION_ID()",
                        (user,))
        return int(cur.fetchone()[0])
    finally:
        conn.close()


@every_driver
def test_pools_reuse_physical_connections(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    props: dict[str, Any] = {"read_write_pools": True, "reader_host_selector_strategy": "round_robin"}
    conn = connect(aurora_cluster, driver=dbapi_driver, **props)
    try:
        table = new_table(conn)
        sessions: set[tuple[str, int]] = set()
        for i in range(1, 9):  # warm up: each reader is chosen in turn
            conn.read_only = True
            sessions.add(backend_id(conn, aurora_cluster))
            conn.read_only = False
            sessions.add(backend_id(conn, aurora_cluster))
            insert(conn, aurora_cluster, table, i)
        readers_used = {name for name, _ in sessions} - {writer.name}
        assert readers_used == {r.name for r in aurora_cluster.readers}  # reads spread
        assert len(sessions) == 1 + len(readers_used)  # one physical connection per host, reused
        # No new server backends for the switches. The server's count also moves with other
        # clients of the cluster (the emulation's lag reporter, monitoring connections of
        # earlier tests closing), so a window where it moved is measured again: a pool that
        # opened connections per switch would raise the count in every window.
        for _attempt in range(3):
            counts = {r.name: _sessions_on(aurora_cluster, r, aurora_cluster.user) for r in aurora_cluster.readers}
            for _ in range(10):
                conn.read_only = True
                sessions.add(backend_id(conn, aurora_cluster))
                conn.read_only = False
            assert len(sessions) == 1 + len(readers_used)  # the same physical connections, every switch
            after = {r.name: _sessions_on(aurora_cluster, r, aurora_cluster.user) for r in aurora_cluster.readers}
            if after == counts:
                break
        assert after == counts, f"server backends moved across the switches in 3 windows: {counts} -> {after}"
    finally:
        conn.close()
    # A new application connection's first switch takes a pooled reader connection.
    hits = connection_pools.hits
    again = connect(aurora_cluster, driver=dbapi_driver, **props)
    try:
        again.read_only = True
        assert backend_id(again, aurora_cluster) in sessions
        assert connection_pools.hits == hits + 1
    finally:
        again.close()
    verify_writes(aurora_cluster, table, list(range(1, 9)), {writer.name})


@every_driver
def test_pools_of_the_old_writer_are_closed_on_failover(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    old = aurora_cluster.writer
    assert old is not None
    conn = connect(aurora_cluster, driver=dbapi_driver, read_write_pools=True, topology_refresh_ms=500)
    try:
        conn.read_only = True  # the writer's connection goes to its pool
        assert connection_pools.stats().get(f"{old.host}:{old.port}") == 1
        aurora_cluster.blackhole(old)
        aurora_cluster.wait_for_replication(timeout=20)
        new = aurora_cluster.failover()
        aurora_cluster.restore(old)
        topology = conn.context.topology
        wait_for(lambda: topology.writer is not None and topology.writer.host == new.host,
                 what="the monitor to see the new writer")
        assert f"{old.host}:{old.port}" not in connection_pools.stats()
        conn.read_only = False
        assert where(conn, aurora_cluster) == new.name
    finally:
        conn.close()


def _endpoint(instance: Instance) -> str:
    return f"{instance.host}:{instance.port}"


@every_driver
def test_srw_switches_between_the_configured_endpoints(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    reader = aurora_cluster.readers[0]
    conn = connect(aurora_cluster, writer, driver=dbapi_driver,
                   plugins="srw,failover", srw_write_endpoint=_endpoint(writer),
                   srw_read_endpoint=_endpoint(reader), srw_verify_initial_connection_type="writer")
    try:
        table = new_table(conn)
        for i in range(1, 4):
            conn.read_only = True
            assert where(conn, aurora_cluster) == reader.name
            conn.read_only = False
            assert insert(conn, aurora_cluster, table, i) == writer.name
    finally:
        conn.close()
    verify_writes(aurora_cluster, table, [1, 2, 3], {writer.name})


@every_driver
def test_srw_verification_refuses_a_read_endpoint_that_leads_to_the_writer(
    aurora_cluster: Cluster, dbapi_driver: Driver
) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    conn = connect(aurora_cluster, writer, driver=dbapi_driver,
                   plugins="srw", srw_write_endpoint=_endpoint(writer),
                   srw_read_endpoint=_endpoint(writer), srw_connect_retry_timeout_ms=300,
                   srw_connect_retry_interval_ms=100)
    try:
        conn.read_only = True  # the "reader" is the writer: verified, refused, reads stay on the writer
        assert where(conn, aurora_cluster) == writer.name
        assert conn.context.connection is conn.context.plugin_state["srw"].current.conn
    finally:
        conn.close()


def test_srw_without_endpoints_is_refused_at_connect(aurora_cluster: Cluster) -> None:
    # Not per driver: the properties are refused before any driver is called.
    with pytest.raises(sturdydb.ConfigurationError, match="srw_read_endpoint"):
        connect(aurora_cluster, plugins="srw", srw_write_endpoint="somewhere:5432")


@every_driver
def test_srw_write_endpoint_that_leads_to_a_reader_is_refused(
    aurora_cluster: Cluster, dbapi_driver: Driver
) -> None:
    reader = aurora_cluster.readers[0]
    conn = connect(aurora_cluster, reader, driver=dbapi_driver,
                   plugins="srw", srw_write_endpoint=_endpoint(reader),
                   srw_read_endpoint=_endpoint(reader), srw_connect_retry_timeout_ms=300,
                   srw_connect_retry_interval_ms=100)
    try:
        assert conn.read_only in (None, False)
        conn.read_only = True  # the connection is on the read endpoint already: no switch
        with pytest.raises(ReadWriteSplittingError, match="did not lead to a writer"):
            conn.read_only = False
        assert where(conn, aurora_cluster) == reader.name
    finally:
        conn.close()
