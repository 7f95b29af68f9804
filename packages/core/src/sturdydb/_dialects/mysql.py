"""MySQL-family dialects: MySQL/MariaDB, RDS for MySQL, Aurora MySQL (also global) and Multi-AZ clusters.

MariaDB is detected as ``mysql``. The SQL strings are the ones Aurora and RDS answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb._dialects.base import DatabaseDialect, GlobalDialect, MultiAzDialect

if TYPE_CHECKING:
    from sturdydb._drivers.base import DriverDialect

__all__ = ["AuroraMysqlDialect", "GlobalAuroraMysqlDialect", "MultiAzMysqlDialect", "MysqlDialect", "RdsMysqlDialect"]

_VERSION_COMMENT = "SHOW VARIABLES LIKE 'version_comment'"
_REPORT_HOST = "SHOW VARIABLES LIKE 'report_host'"


class MysqlDialect(DatabaseDialect):
    code: ClassVar[str] = "mysql"
    family: ClassVar[str] = "mysql"
    default_port: ClassVar[int] = 3306
    # The global dialect first: an Aurora cluster that is part of a global database also
    # passes the aurora-mysql probe (the reference's order, which then never finds "global").
    refinements: ClassVar[tuple[str, ...]] = ("global-aurora-mysql", "aurora-mysql", "multi-az-mysql", "rds-mysql")
    instance_id_query: ClassVar[str] = "SELECT @@hostname AS host, CONCAT(@@hostname, ':', @@port) AS host_id"
    is_reader_query: ClassVar[str] = "SELECT @@read_only"

    def is_dialect(self, driver: DriverDialect, conn: Any) -> bool:
        # MariaDB answers e.g. "Debian n/a" or "mariadb.org binary distribution": any server
        # that understands this MySQL statement is of the MySQL family.
        return self._first(driver, conn, _VERSION_COMMENT) is not None


class RdsMysqlDialect(MysqlDialect):
    code: ClassVar[str] = "rds-mysql"
    refinements: ClassVar[tuple[str, ...]] = ("global-aurora-mysql", "aurora-mysql", "multi-az-mysql")

    def is_dialect(self, driver: DriverDialect, conn: Any) -> bool:
        row = self._first(driver, conn, _VERSION_COMMENT)
        if not row or str(row[1]).lower() != "source distribution":
            return False
        host = self._first(driver, conn, _REPORT_HOST)
        return bool(host and host[1])


class AuroraMysqlDialect(MysqlDialect):
    code: ClassVar[str] = "aurora-mysql"
    refinements: ClassVar[tuple[str, ...]] = ()
    has_topology: ClassVar[bool] = True
    instance_id_query: ClassVar[str] = "SELECT @@aurora_server_id, @@aurora_server_id"
    is_reader_query: ClassVar[str] = "SELECT @@innodb_read_only"
    topology_query: ClassVar[str] = (
        "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
        "CPU, REPLICA_LAG_IN_MILLISECONDS, LAST_UPDATE_TIMESTAMP FROM "
        "information_schema.replica_host_status WHERE time_to_sec(timediff(now(), "
        "LAST_UPDATE_TIMESTAMP)) <= 300 OR SESSION_ID = 'MASTER_SESSION_ID' "
    )
    writer_id_query: ClassVar[str] = (
        "SELECT SERVER_ID FROM information_schema.replica_host_status WHERE SESSION_ID = "
        "'MASTER_SESSION_ID' AND SERVER_ID = @@aurora_server_id"
    )

    def is_dialect(self, driver: DriverDialect, conn: Any) -> bool:
        return self._first(driver, conn, "SHOW VARIABLES LIKE 'aurora_version'") is not None


def _has_information_schema_table(name: str) -> str:
    return (
        "SELECT 1 AS tmp FROM information_schema.tables WHERE upper(table_schema) = "
        f"'INFORMATION_SCHEMA' AND upper(table_name) = '{name}'"
    )


class GlobalAuroraMysqlDialect(GlobalDialect, AuroraMysqlDialect):
    """Aurora MySQL Global Database (topology rows by region: see :class:`GlobalDialect`)."""

    code: ClassVar[str] = "global-aurora-mysql"
    # The trailing space is the reference's; the string is kept exactly.
    topology_query: ClassVar[str] = (
        "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
        "VISIBILITY_LAG_IN_MSEC, AWS_REGION FROM information_schema.aurora_global_db_instance_status "
    )
    writer_id_query: ClassVar[str] = (
        "SELECT SERVER_ID FROM information_schema.aurora_global_db_instance_status WHERE SESSION_ID = "
        "'MASTER_SESSION_ID' AND SERVER_ID = @@aurora_server_id"
    )
    region_query: ClassVar[str] = (
        "SELECT AWS_REGION FROM information_schema.aurora_global_db_instance_status WHERE SERVER_ID = %s"
    )

    def is_dialect(self, driver: DriverDialect, conn: Any) -> bool:
        for table in ("AURORA_GLOBAL_DB_STATUS", "AURORA_GLOBAL_DB_INSTANCE_STATUS"):
            if self._first(driver, conn, _has_information_schema_table(table)) is None:
                return False
        count = self._first(driver, conn, "SELECT count(1) FROM information_schema.aurora_global_db_status")
        return bool(count and int(count[0]) > 1)


#: Column of ``SHOW REPLICA STATUS`` holding the source's server id (``Source_Server_Id`` on
#: MySQL, ``Master_Server_Id`` on MariaDB: the same position on both).
_SOURCE_SERVER_ID_COLUMN = 39


class MultiAzMysqlDialect(MultiAzDialect, MysqlDialect):
    """RDS for MySQL Multi-AZ DB cluster: ``mysql.rds_topology`` names the instances by server id.

    The writer is the server a standby replicates from (``SHOW REPLICA STATUS``); on the writer
    that returns nothing, and the writer is the server itself.
    """

    code: ClassVar[str] = "multi-az-mysql"
    refinements: ClassVar[tuple[str, ...]] = ()
    instance_id_query: ClassVar[str] = (
        "SELECT id, SUBSTRING_INDEX(endpoint, '.', 1) FROM mysql.rds_topology WHERE id = @@server_id"
    )
    topology_query: ClassVar[str] = "SELECT id, endpoint, port FROM mysql.rds_topology"

    def writer_topology_id(self, driver: DriverDialect, conn: Any) -> str | None:
        rows = driver.query(conn, "SHOW REPLICA STATUS")
        if rows:
            source = rows[0][_SOURCE_SERVER_ID_COLUMN]
            # 0: the standby has not reached its (new) source yet, so it does not know the writer.
            return str(source) if source and str(source) != "0" else None
        me = driver.query(conn, self.instance_id_query)
        return str(me[0][0]) if me and me[0][0] is not None else None

    def is_dialect(self, driver: DriverDialect, conn: Any) -> bool:
        if self._first(driver, conn, "SELECT id, endpoint, port FROM mysql.rds_topology") is None:
            return False
        host = self._first(driver, conn, _REPORT_HOST)
        return bool(host and host[1])
