"""PostgreSQL dialects: plain PostgreSQL, RDS for PostgreSQL, Aurora PostgreSQL and Multi-AZ clusters.

The SQL strings are the ones Aurora and RDS answer (see the reference facts); they are part
of the servers' interface, so they are kept exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb._dialects.base import DatabaseDialect, GlobalDialect, MultiAzDialect

if TYPE_CHECKING:
    from sturdydb._drivers.base import DriverDialect

__all__ = ["AuroraPgDialect", "GlobalAuroraPgDialect", "MultiAzPgDialect", "PgDialect", "RdsPgDialect"]

_IS_PG = "SELECT 1 FROM pg_catalog.pg_proc LIMIT 1"
_EXTENSIONS = (
    "SELECT (setting LIKE '%rds_tools%') AS rds_tools, (setting LIKE '%aurora_stat_utils%') "
    "AS aurora_stat_utils FROM pg_catalog.pg_settings WHERE name OPERATOR(pg_catalog.=) 'rds.extensions'"
)


class PgDialect(DatabaseDialect):
    code: ClassVar[str] = "pg"
    family: ClassVar[str] = "pg"
    default_port: ClassVar[int] = 5432
    # The global dialect first: an Aurora cluster that is part of a global database also
    # passes the aurora-pg probe (the reference's order, which then never finds "global").
    refinements: ClassVar[tuple[str, ...]] = ("global-aurora-pg", "aurora-pg", "multi-az-pg", "rds-pg")
    instance_id_query: ClassVar[str] = (
        "SELECT pg_catalog.inet_server_addr() AS host, pg_catalog.CONCAT(pg_catalog.inet_server_addr(),"
        " ':', pg_catalog.inet_server_port()) AS host_id"
    )
    is_reader_query: ClassVar[str] = "SELECT pg_catalog.pg_is_in_recovery()"

    def is_dialect(self, driver: DriverDialect, conn: Any) -> bool:
        return self._first(driver, conn, _IS_PG) is not None


class RdsPgDialect(PgDialect):
    code: ClassVar[str] = "rds-pg"
    refinements: ClassVar[tuple[str, ...]] = ("global-aurora-pg", "aurora-pg", "multi-az-pg")

    def is_dialect(self, driver: DriverDialect, conn: Any) -> bool:
        if not super().is_dialect(driver, conn):
            return False
        row = self._first(driver, conn, _EXTENSIONS)
        return bool(row and row[0] and not row[1])


class AuroraPgDialect(PgDialect):
    code: ClassVar[str] = "aurora-pg"
    refinements: ClassVar[tuple[str, ...]] = ()
    has_topology: ClassVar[bool] = True
    instance_id_query: ClassVar[str] = (
        "SELECT pg_catalog.aurora_db_instance_identifier(), pg_catalog.aurora_db_instance_identifier()"
    )
    topology_query: ClassVar[str] = (
        "SELECT SERVER_ID, CASE WHEN SESSION_ID OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' THEN TRUE "
        "ELSE FALSE END, CPU, COALESCE(REPLICA_LAG_IN_MSEC, 0), LAST_UPDATE_TIMESTAMP FROM "
        "pg_catalog.aurora_replica_status() WHERE EXTRACT(EPOCH FROM(pg_catalog.NOW() "
        "OPERATOR(pg_catalog.-) LAST_UPDATE_TIMESTAMP)) OPERATOR(pg_catalog.<=) 300 OR SESSION_ID "
        "OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' OR LAST_UPDATE_TIMESTAMP IS NULL"
    )
    writer_id_query: ClassVar[str] = (
        "SELECT SERVER_ID FROM pg_catalog.aurora_replica_status() WHERE SESSION_ID "
        "OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' AND SERVER_ID OPERATOR(pg_catalog.=) "
        "pg_catalog.aurora_db_instance_identifier()"
    )

    def is_dialect(self, driver: DriverDialect, conn: Any) -> bool:
        row = self._first(driver, conn, _EXTENSIONS)
        if not (row and row[1]):
            return False
        return self._first(driver, conn, "SELECT 1 FROM pg_catalog.aurora_replica_status() LIMIT 1") is not None


class GlobalAuroraPgDialect(GlobalDialect, AuroraPgDialect):
    """Aurora PostgreSQL Global Database (topology rows by region: see :class:`GlobalDialect`)."""

    code: ClassVar[str] = "global-aurora-pg"
    topology_query: ClassVar[str] = (
        "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
        "VISIBILITY_LAG_IN_MSEC, AWS_REGION FROM pg_catalog.aurora_global_db_instance_status()"
    )
    writer_id_query: ClassVar[str] = (
        "SELECT SERVER_ID FROM pg_catalog.aurora_global_db_instance_status() WHERE SESSION_ID "
        "OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' AND SERVER_ID OPERATOR(pg_catalog.=) "
        "pg_catalog.aurora_db_instance_identifier()"
    )
    region_query: ClassVar[str] = (
        "SELECT AWS_REGION FROM pg_catalog.aurora_global_db_instance_status() WHERE SERVER_ID = %s"
    )

    def is_dialect(self, driver: DriverDialect, conn: Any) -> bool:
        row = self._first(driver, conn, _EXTENSIONS)
        if not (row and row[1]):
            return False
        for probe in ("select 'pg_catalog.aurora_global_db_status'::regproc",
                      "select 'pg_catalog.aurora_global_db_instance_status'::regproc"):
            if self._first(driver, conn, probe) is None:
                return False
        count = self._first(driver, conn, "SELECT count(1) FROM pg_catalog.aurora_global_db_status()")
        return bool(count and int(count[0]) > 1)


_SOURCE_RESOURCE_ID = (
    "SELECT multi_az_db_cluster_source_dbi_resource_id FROM "
    "rds_tools.multi_az_db_cluster_source_dbi_resource_id()"
)


class MultiAzPgDialect(MultiAzDialect, PgDialect):
    """RDS for PostgreSQL Multi-AZ DB cluster: ``rds_tools`` names the instances and the writer."""

    code: ClassVar[str] = "multi-az-pg"
    refinements: ClassVar[tuple[str, ...]] = ()
    instance_id_query: ClassVar[str] = (
        "SELECT id, SUBSTRING(endpoint FROM 0 FOR POSITION('.' IN endpoint)) FROM "
        "rds_tools.show_topology() WHERE id OPERATOR(pg_catalog.=) rds_tools.dbi_resource_id()"
    )
    # The argument identifies the client to RDS (the reference sends its own name and version).
    topology_query: ClassVar[str] = "SELECT id, endpoint, port FROM rds_tools.show_topology('sturdydb')"

    def is_dialect(self, driver: DriverDialect, conn: Any) -> bool:
        row = self._first(driver, conn, _SOURCE_RESOURCE_ID)
        return bool(row and row[0])

    def writer_topology_id(self, driver: DriverDialect, conn: Any) -> str | None:
        rows = driver.query(conn, _SOURCE_RESOURCE_ID)
        return str(rows[0][0]) if rows and rows[0][0] else None
