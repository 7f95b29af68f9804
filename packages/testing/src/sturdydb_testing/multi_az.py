"""The RDS Multi-AZ DB cluster surface, for both engines (``kind="multi-az"``).

An RDS Multi-AZ DB cluster is a writer and two readable standbys. Clients learn its shape
from what the multi-az dialects query, which this module creates and keeps current:

PostgreSQL (``rds.extensions`` lists ``rds_tools``, not ``aurora_stat_utils``; the
``pg_settings`` view comes from :mod:`sturdydb_testing.postgres`):

- ``rds_tools.show_topology(text)``: one row per instance (``id`` = the DbiResourceId,
  ``endpoint``, ``port``; the blue/green columns ``role``, ``status``, ``version`` are NULL);
- ``rds_tools.dbi_resource_id()``: this instance's id (a per-instance setting);
- ``rds_tools.multi_az_db_cluster_source_dbi_resource_id()``: the writer's id. A node that is
  not in recovery names itself (as the Aurora emulation does); a standby names the writer the
  harness last published.

MySQL (MariaDB, with no query rewriting: MariaDB answers these natively):

- ``mysql.rds_topology``: ``id`` = each server's ``@@server_id``, ``endpoint``, ``port``;
- ``SHOW REPLICA STATUS``: on a standby, column 39 (``Master_Server_Id``) is the server it
  really replicates from; on the writer it returns no row.

The tables live on the writer and replicate, like the Aurora emulation's topology table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sturdydb_testing.cluster import Cluster, Instance

__all__ = [
    "MYSQL_MULTI_AZ_SQL",
    "PG_MULTI_AZ_SQL",
    "PG_PUBLISH",
    "mysql_grants",
    "mysql_topology_rows",
    "pg_topology_rows",
]

PG_MULTI_AZ_SQL = """
SET allow_system_table_mods = on;
CREATE SCHEMA sturdydb_multi_az;
CREATE TABLE sturdydb_multi_az.topology (
    resource_id text PRIMARY KEY,
    endpoint text NOT NULL,
    port integer NOT NULL,
    is_writer boolean NOT NULL
);
GRANT USAGE ON SCHEMA sturdydb_multi_az TO PUBLIC;
GRANT SELECT ON sturdydb_multi_az.topology TO PUBLIC;

CREATE SCHEMA rds_tools;
GRANT USAGE ON SCHEMA rds_tools TO PUBLIC;

CREATE FUNCTION rds_tools.dbi_resource_id() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT pg_catalog.current_setting('sturdydb.dbi_resource_id') $$;

CREATE FUNCTION rds_tools.multi_az_db_cluster_source_dbi_resource_id()
RETURNS TABLE (multi_az_db_cluster_source_dbi_resource_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT CASE WHEN NOT pg_is_in_recovery() THEN current_setting('sturdydb.dbi_resource_id')
                ELSE (SELECT t.resource_id FROM sturdydb_multi_az.topology t WHERE t.is_writer LIMIT 1)
           END
$$;

CREATE FUNCTION rds_tools.show_topology(driver_info text DEFAULT NULL)
RETURNS TABLE (id text, endpoint text, port integer, role text, status text, version text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT t.resource_id, t.endpoint, t.port, NULL::text, NULL::text, NULL::text
    FROM sturdydb_multi_az.topology t ORDER BY t.endpoint
$$;

"""

PG_PUBLISH = """
INSERT INTO sturdydb_multi_az.topology (resource_id, endpoint, port, is_writer)
VALUES (%s, %s, %s, %s)
ON CONFLICT (resource_id) DO UPDATE SET
    endpoint = excluded.endpoint, port = excluded.port, is_writer = excluded.is_writer
"""

MYSQL_MULTI_AZ_SQL = [
    # The blue/green columns exist on RDS too; Multi-AZ leaves them NULL.
    """CREATE TABLE mysql.rds_topology (
        id BIGINT UNSIGNED PRIMARY KEY,
        endpoint VARCHAR(255) NOT NULL,
        port INT NOT NULL,
        role VARCHAR(64) NULL,
        status VARCHAR(64) NULL,
        version VARCHAR(16) NULL
    )""",
]


def mysql_grants(user: str) -> list[str]:
    """What the application user needs to read the surface (RDS's master user has both)."""
    return [
        f"GRANT SELECT ON mysql.rds_topology TO {user}@'%'",
        f"GRANT SLAVE MONITOR ON *.* TO {user}@'%'",
    ]


def pg_topology_rows(cluster: Cluster, writer: Instance) -> list[tuple[str, str, int, bool]]:
    """(resource id, endpoint, port, is writer) for every instance: RDS lists all three always."""
    return [(i.resource_id, i.host, i.port, i is writer) for i in cluster.instances]


def mysql_topology_rows(server_ids: dict[str, int], cluster: Cluster) -> list[tuple[Any, ...]]:
    """(server id, endpoint, port) for every instance that has been started."""
    return [(server_ids[i.name], i.host, i.port) for i in cluster.instances if i.name in server_ids]
