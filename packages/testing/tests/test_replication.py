"""Real replication: writes on the writer reach every replica; replicas really refuse writes."""

from __future__ import annotations

import uuid

import pytest
from conftest import DRIVER_ERRORS, query, raw_connect

from sturdydb_testing import Cluster


def test_writes_on_the_writer_reach_every_replica(aurora_cluster: Cluster) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    marker = uuid.uuid4().hex
    with raw_connect(aurora_cluster, aurora_cluster.writer) as conn:
        query(conn, f"CREATE TABLE {table} (v VARCHAR(64))")
        query(conn, f"INSERT INTO {table} VALUES ('{marker}')")
    aurora_cluster.wait_for_replication(timeout=20)
    assert len(aurora_cluster.readers) == 2
    for reader in aurora_cluster.readers:
        conn = raw_connect(aurora_cluster, reader)
        try:
            assert query(conn, f"SELECT v FROM {table}") == [(marker,)], reader.name
        finally:
            conn.close()


def test_the_application_user_gets_a_real_read_only_error_on_a_replica(aurora_cluster: Cluster) -> None:
    conn = raw_connect(aurora_cluster, aurora_cluster.readers[0])
    try:
        with pytest.raises(DRIVER_ERRORS) as caught:
            query(conn, f"CREATE TABLE ro_{uuid.uuid4().hex[:8]} (v INT)")
    finally:
        conn.close()
    if aurora_cluster.engine == "pg":
        assert getattr(caught.value, "sqlstate", None) == "25006"
    else:
        assert getattr(caught.value, "errno", None) == 1290


def test_the_application_user_is_not_a_superuser(pg_cluster: Cluster) -> None:
    with raw_connect(pg_cluster, pg_cluster.writer) as conn:
        assert query(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [(False,)]


def test_a_promotion_keeps_every_commit_the_lost_writer_acknowledged(mysql_cluster: Cluster) -> None:
    """Aurora's storage never loses an acknowledged commit, so the emulation's promotion may not.

    The replica to be promoted misses the writer's last commits (its receiver is stopped, as
    when a writer froze or died before sending them on; found by the demo in CI). The
    promotion replays them from the lost writer's binlog, each once.
    """
    cluster = mysql_cluster
    target = cluster.readers[0]
    table = f"t_{uuid.uuid4().hex[:8]}"
    with raw_connect(cluster, cluster.writer) as conn:
        query(conn, f"CREATE TABLE {table} (v INT PRIMARY KEY)")
        query(conn, f"INSERT INTO {table} VALUES (1)")
    cluster.wait_for_replication(timeout=20)
    admin = cluster.admin_connect(target)  # type: ignore[attr-defined]
    try:
        query(admin, "STOP SLAVE IO_THREAD")
    finally:
        admin.close()
    with raw_connect(cluster, cluster.writer) as conn:
        for value in (2, 3, 4):
            query(conn, f"INSERT INTO {table} VALUES ({value})")
    with raw_connect(cluster, target) as conn:
        assert query(conn, f"SELECT v FROM {table} ORDER BY v") == [(1,)]  # the setup holds
    new = cluster.failover(target=target, promote_delay=0, old_writer="kill")
    assert new is target
    with raw_connect(cluster, new) as conn:
        assert query(conn, f"SELECT v, COUNT(*) FROM {table} GROUP BY v ORDER BY v") == [
            (1, 1), (2, 1), (3, 1), (4, 1)
        ]
    cluster.heal()
    cluster.wait_for_replication(timeout=20)
    for reader in cluster.readers:
        with raw_connect(cluster, reader) as conn:
            assert query(conn, f"SELECT COUNT(*) FROM {table}") == [(4,)], reader.name
