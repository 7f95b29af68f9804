"""The queries of the multi-az dialects answer as an RDS Multi-AZ DB cluster does, before and
after a failover, and the Aurora surface is absent (so detection cannot mistake the kind)."""

from __future__ import annotations

from typing import Any

from conftest import query, raw_connect

from sturdydb_testing import Cluster, Instance, MariaDBCluster

PG_WRITER = (
    "SELECT multi_az_db_cluster_source_dbi_resource_id FROM "
    "rds_tools.multi_az_db_cluster_source_dbi_resource_id()"
)
PG_TOPOLOGY = "SELECT id, endpoint, port FROM rds_tools.show_topology('sturdydb')"
PG_HOST_ID = (
    "SELECT id, SUBSTRING(endpoint FROM 0 FOR POSITION('.' IN endpoint)) FROM "
    "rds_tools.show_topology() WHERE id OPERATOR(pg_catalog.=) rds_tools.dbi_resource_id()"
)
PG_EXTENSIONS = (
    "SELECT (setting LIKE '%rds_tools%') AS rds_tools, (setting LIKE '%aurora_stat_utils%') "
    "AS aurora_stat_utils FROM pg_catalog.pg_settings WHERE name OPERATOR(pg_catalog.=) 'rds.extensions'"
)
MYSQL_TOPOLOGY = "SELECT id, endpoint, port FROM mysql.rds_topology"
MYSQL_HOST_ID = "SELECT id, SUBSTRING_INDEX(endpoint, '.', 1) FROM mysql.rds_topology WHERE id = @@server_id"


def _view(cluster: Cluster, instance: Instance) -> dict[str, Any]:
    """What one instance says: its own name, the writer's name, and the listed endpoints."""
    conn = raw_connect(cluster, instance)
    try:
        if cluster.engine == "pg":
            by_id = {row[0]: row[1].split(".")[0] for row in query(conn, PG_TOPOLOGY)}
            writer_id = query(conn, PG_WRITER)[0][0]
            me = query(conn, PG_HOST_ID)[0]
            extensions = query(conn, PG_EXTENSIONS)[0]
            assert extensions == (True, False)  # rds-pg family, not Aurora
        else:
            by_id = {row[0]: row[1].split(".")[0] for row in query(conn, MYSQL_TOPOLOGY)}
            replica = query(conn, "SHOW REPLICA STATUS")
            me = query(conn, MYSQL_HOST_ID)[0]
            # Column 39 is the source's server id; the writer replicates from nobody.
            writer_id = replica[0][39] if replica else me[0]
            assert query(conn, "SHOW VARIABLES LIKE 'aurora_version'") == []
            assert query(conn, "SHOW VARIABLES LIKE 'report_host'")[0][1]
    finally:
        conn.close()
    return {"me": me[1], "writer": by_id.get(writer_id), "hosts": sorted(by_id.values())}


def test_every_instance_names_the_writer_and_all_three_instances(multi_az_cluster: Cluster) -> None:
    writer = multi_az_cluster.writer
    assert writer is not None
    names = sorted(i.name for i in multi_az_cluster.instances)
    for instance in multi_az_cluster.instances:
        view = _view(multi_az_cluster, instance)
        assert view == {"me": instance.name, "writer": writer.name, "hosts": names}


def test_after_a_failover_the_survivors_name_the_promoted_standby(multi_az_cluster: Cluster) -> None:
    new = multi_az_cluster.failover(promote_delay=0)
    multi_az_cluster.wait_for_replication(timeout=20)
    running = [i for i in multi_az_cluster.instances if i.running]
    assert len(running) == len(multi_az_cluster.instances) - 1
    for instance in running:
        assert _view(multi_az_cluster, instance)["writer"] == new.name


def test_the_mysql_surface_is_native_so_no_query_is_rewritten(mysql_multi_az_cluster: Cluster) -> None:
    assert isinstance(mysql_multi_az_cluster, MariaDBCluster)
    assert mysql_multi_az_cluster.kind == "multi-az"
    writer = mysql_multi_az_cluster.writer
    assert writer is not None and writer.proxy is not None
    # The Aurora rewrite would turn this into the instance name; natively it is an unknown variable.
    conn = raw_connect(mysql_multi_az_cluster, writer)
    try:
        assert query(conn, "SHOW VARIABLES LIKE 'aurora_server_id'") == []
    finally:
        conn.close()
