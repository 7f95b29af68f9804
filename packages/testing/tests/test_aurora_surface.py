"""The Aurora queries of the aws wrapper's aurora dialects answer as Aurora does, before and after failover."""

from __future__ import annotations

from typing import Any

from conftest import instance_id_sql, query, raw_connect

from sturdydb_testing import Cluster, Instance

PG_TOPOLOGY = (
    "SELECT SERVER_ID, CASE WHEN SESSION_ID OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
    "CPU, COALESCE(REPLICA_LAG_IN_MSEC, 0), LAST_UPDATE_TIMESTAMP FROM pg_catalog.aurora_replica_status() "
    "WHERE EXTRACT(EPOCH FROM(pg_catalog.NOW() OPERATOR(pg_catalog.-) LAST_UPDATE_TIMESTAMP)) OPERATOR(pg_catalog.<=) 300 "
    "OR SESSION_ID OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' OR LAST_UPDATE_TIMESTAMP IS NULL"
)
MYSQL_TOPOLOGY = (
    "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, CPU, "
    "REPLICA_LAG_IN_MILLISECONDS, LAST_UPDATE_TIMESTAMP FROM information_schema.replica_host_status "
    "WHERE time_to_sec(timediff(now(), LAST_UPDATE_TIMESTAMP)) <= 300 OR SESSION_ID = 'MASTER_SESSION_ID' "
)
PG_WRITER_ID = (
    "SELECT SERVER_ID FROM pg_catalog.aurora_replica_status() WHERE SESSION_ID OPERATOR(pg_catalog.=) "
    "'MASTER_SESSION_ID' AND SERVER_ID OPERATOR(pg_catalog.=) pg_catalog.aurora_db_instance_identifier()"
)
MYSQL_WRITER_ID = (
    "SELECT SERVER_ID FROM information_schema.replica_host_status WHERE SESSION_ID = 'MASTER_SESSION_ID' "
    "AND SERVER_ID = @@aurora_server_id"
)


def _topology(cluster: Cluster, instance: Instance) -> dict[str, bool]:
    conn = raw_connect(cluster, instance)
    try:
        rows = query(conn, PG_TOPOLOGY if cluster.engine == "pg" else MYSQL_TOPOLOGY)
    finally:
        conn.close()
    return {row[0]: bool(row[1]) for row in rows}


def _probe(cluster: Cluster, instance: Instance) -> dict[str, Any]:
    conn = raw_connect(cluster, instance)
    try:
        if cluster.engine == "pg":
            detected = query(
                conn,
                "SELECT (setting LIKE '%aurora_stat_utils%') AS aurora_stat_utils FROM pg_catalog.pg_settings "
                "WHERE name OPERATOR(pg_catalog.=) 'rds.extensions'",
            ) == [(True,)] and query(conn, "SELECT 1 FROM pg_catalog.aurora_replica_status() LIMIT 1") == [
                (1,)
            ]
            is_reader = query(conn, "SELECT pg_catalog.pg_is_in_recovery()")[0][0]
            writer_id = query(conn, PG_WRITER_ID)
        else:
            detected = len(query(conn, "SHOW VARIABLES LIKE 'aurora_version'")) == 1
            is_reader = query(conn, "SELECT @@innodb_read_only")[0][0]
            writer_id = query(conn, MYSQL_WRITER_ID)
        host_id = query(conn, instance_id_sql(cluster))[0]
    finally:
        conn.close()
    return {
        "detected": detected,
        "is_reader": bool(is_reader),
        "host_id": tuple(host_id),
        "writer_id": writer_id,
    }


def test_every_instance_is_detected_as_aurora_and_identifies_itself(aurora_cluster: Cluster) -> None:
    for instance in aurora_cluster.instances:
        probe = _probe(aurora_cluster, instance)
        assert probe["detected"], instance.name
        assert probe["host_id"] == (instance.name, instance.name)
        assert probe["is_reader"] is (not instance.is_writer), instance.name
        assert probe["writer_id"] == ([(instance.name,)] if instance.is_writer else [])


def test_every_instance_reports_the_same_topology_with_one_writer(aurora_cluster: Cluster) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    expected = {i.name: i is writer for i in aurora_cluster.instances}
    for instance in aurora_cluster.instances:
        assert _topology(aurora_cluster, instance) == expected, instance.name


def test_after_failover_the_promoted_instance_is_reported_as_writer_everywhere(
    aurora_cluster: Cluster,
) -> None:
    old = aurora_cluster.writer
    assert old is not None
    new = aurora_cluster.failover(promote_delay=0)
    assert new is not old and aurora_cluster.writer is new and not old.is_writer
    aurora_cluster.wait_for_replication(timeout=20)
    for instance in aurora_cluster.instances:
        if instance is old:
            continue
        topology = _topology(aurora_cluster, instance)
        # Aurora keeps reporting a dead instance (as a reader) until its 300 s rule drops it.
        assert topology == {i.name: i is new for i in aurora_cluster.instances}, instance.name
        assert _probe(aurora_cluster, instance)["is_reader"] is (instance is not new)
    writer_probe = _probe(aurora_cluster, new)
    assert writer_probe["writer_id"] == [(new.name,)]


def test_a_rejoined_old_writer_replicates_from_the_new_writer(aurora_cluster: Cluster) -> None:
    old = aurora_cluster.writer
    new = aurora_cluster.failover(promote_delay=0, old_writer="freeze")
    assert old is not None and not old.is_writer
    aurora_cluster.rejoin(old)
    with raw_connect(aurora_cluster, new) as conn:
        query(conn, "CREATE TABLE rejoin_probe (v INT)")
        query(conn, "INSERT INTO rejoin_probe VALUES (7)")
    aurora_cluster.wait_for_replication(timeout=20)
    conn = raw_connect(aurora_cluster, old)
    try:
        assert query(conn, "SELECT v FROM rejoin_probe") == [(7,)]
    finally:
        conn.close()
    assert _topology(aurora_cluster, old) == {i.name: i is new for i in aurora_cluster.instances}
    kinds = [e.kind for e in aurora_cluster.events]
    assert "freeze" in kinds and "rejoin" in kinds
