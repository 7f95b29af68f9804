"""One region of an Aurora MySQL Global Database emulated on real MariaDB servers.

Owns the MariaDB side of :class:`~sturdydb_testing.global_db.GlobalDatabase`: the secondary
region's head replicates from the global writer with GTID (``log_slave_updates``, so its own
replicas cascade from it), every region draws server ids from its own range (a replica skips
events that carry its own id), and the global status views live in ``sturdydb_aurora`` because
MariaDB cannot create ``information_schema`` tables: the per-instance proxy rewrites
``information_schema.aurora_global_db_instance_status`` / ``aurora_global_db_status`` (and the
dialect's ``information_schema.tables`` probe for them) to those views
(:mod:`sturdydb_testing.mysql_protocol`).

Durability: replication between regions is asynchronous; ``rpo_zero`` turns on MariaDB's
semi-synchronous replication with only the secondary head acknowledging, so an acknowledged
commit has reached the other region. A managed switchover holds every write with a global
read lock, waits until the secondary head has the writer's last GTID, and only then stops the
writer; a promotion first applies everything the head received (relay logs are discarded by
``RESET SLAVE ALL``).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from sturdydb_testing.cluster import Instance
from sturdydb_testing.mariadb import MariaDBCluster

if TYPE_CHECKING:
    from sturdydb_testing.global_db import GlobalDatabase

__all__ = ["MariaDBRegionCluster"]

#: Created on the first writer after the aurora-mysql emulation objects (they replicate).
GLOBAL_MARIADB_SQL = [
    """CREATE TABLE sturdydb_aurora.global_topology (
        server_id VARCHAR(64) PRIMARY KEY,
        session_id VARCHAR(64) NOT NULL,
        aws_region VARCHAR(32) NOT NULL,
        is_writer BOOLEAN NOT NULL,
        alive BOOLEAN NOT NULL,
        lag_ms DOUBLE NOT NULL DEFAULT 0
    )""",
    # A node that is not read-only is the writer even before the harness republishes the rows.
    """CREATE SQL SECURITY DEFINER VIEW sturdydb_aurora.aurora_global_db_instance_status AS
        SELECT
            t.server_id AS SERVER_ID,
            CASE WHEN (CASE WHEN sturdydb_aurora.primary_here() THEN t.server_id = sturdydb_aurora.local_id()
                            ELSE t.is_writer END)
                 THEN 'MASTER_SESSION_ID' ELSE t.session_id END AS SESSION_ID,
            t.aws_region AS AWS_REGION,
            CAST(NULL AS SIGNED) AS DURABLE_LSN,
            CAST(NULL AS SIGNED) AS HIGHEST_LSN_RCVD,
            CAST(NULL AS SIGNED) AS OLDEST_READ_VIEW_TRX_ID,
            CAST(NULL AS SIGNED) AS OLDEST_READ_VIEW_LSN,
            CAST(t.lag_ms AS DOUBLE) AS VISIBILITY_LAG_IN_MSEC
        FROM sturdydb_aurora.global_topology t
        WHERE t.alive""",
    """CREATE SQL SECURITY DEFINER VIEW sturdydb_aurora.aurora_global_db_status AS
        SELECT
            aws_region AS AWS_REGION,
            CAST(NULL AS SIGNED) AS HIGHEST_LSN_WRITTEN,
            MAX(lag_ms) AS DURABILITY_LAG_IN_MILLISECONDS,
            MAX(lag_ms) AS RPO_LAG_IN_MILLISECONDS,
            NOW(6) AS LAST_LAG_CALCULATION_TIMESTAMP,
            CAST(NULL AS SIGNED) AS OLDEST_READ_VIEW_TRX_ID
        FROM sturdydb_aurora.global_topology
        GROUP BY aws_region""",
]

#: Server ids per region: region n uses n * _ID_RANGE + 1, ... (rebuilds take new ones).
_ID_RANGE = 1000


class MariaDBRegionCluster(MariaDBCluster):
    """One region of a :class:`GlobalDatabase` on MariaDB (same hooks as the PostgreSQL region)."""

    def __init__(self, owner: GlobalDatabase, source: Instance | None, index: int, **options: Any) -> None:
        super().__init__(**options)
        self.owner = owner
        #: The instance the head replicates from (another region's), None for the writer region.
        self.source = source
        self._server_ids = itertools.count(index * _ID_RANGE + 1)

    def _create_primary(self, instance: Instance) -> None:
        if self.source is None:
            super()._create_primary(instance)
            self._execute(instance, *GLOBAL_MARIADB_SQL)
            return
        # The head starts empty and replays the global writer's whole binlog (users included).
        self._create_replica(instance, self.source)

    def _publish_topology(self, writer: Instance) -> None:
        self.owner.publish()

    # ------------------------------------------------------------------ global hooks
    def write_global_topology(
        self, writer: Instance, rows: list[tuple[str, str, str, bool, bool]],
        local: list[tuple[str, str, bool, bool]],
    ) -> None:
        # This region's aurora-mysql surface (replica_host_status) lists its own instances. It
        # goes first: an upsert that changes nothing is applied by a replica but not written to
        # its (row-format) binlog, so a cascaded replica never sees that GTID; the global rows
        # below always change, so the last GTID of a publish reaches every region.
        MariaDBCluster._publish_topology(self, writer)
        statements = ["SET SESSION binlog_format = 'STATEMENT'", "DELETE FROM sturdydb_aurora.global_topology"]
        statements += [
            "INSERT INTO sturdydb_aurora.global_topology (server_id, session_id, aws_region, is_writer, alive) "
            f"VALUES ({_q(name)}, {_q(session)}, {_q(region)}, {int(is_writer)}, {int(alive)})"
            for name, session, region, is_writer, alive in rows
        ]
        self._execute(writer, *statements)

    def set_rpo_standby(self, writer: Instance, standby: Instance | None) -> None:
        if standby is None:
            self._execute(writer, "SET GLOBAL rpl_semi_sync_master_enabled = OFF")
            return
        cluster = standby.cluster
        assert isinstance(cluster, MariaDBCluster)
        # Only the other region's head acknowledges: this region's replicas leave it off.
        cluster._execute(standby, "SET GLOBAL rpl_semi_sync_slave_enabled = ON",
                         "STOP SLAVE IO_THREAD", "START SLAVE IO_THREAD")
        self._execute(writer, "SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC",
                      "SET GLOBAL rpl_semi_sync_master_timeout = 3600000",
                      "SET GLOBAL rpl_semi_sync_master_enabled = ON")

    def prepare_promotion(self, new: Instance) -> None:
        # Apply all that arrived before the promotion: RESET SLAVE ALL deletes the relay logs.
        self._execute(new, "STOP SLAVE IO_THREAD")
        position = self._slave_status(new).get("Gtid_IO_Pos") or ""
        if position:
            result = self._execute(new, "SELECT MASTER_GTID_WAIT(%s, 60)", params=(position,))
            if not result or result[0][0] != 0:
                raise TimeoutError(f"{new.name} did not apply {position} within 60 s before its promotion")
        self._execute(new, "SET GLOBAL rpl_semi_sync_master_enabled = OFF")

    def hand_over(self, old: Instance) -> None:
        """Hold every write, let the other region's head catch up, then stop the writer."""
        head = self.owner.regions[self.owner.secondary_region].writer
        assert head is not None
        conn = self.admin_connect(old)
        try:
            cursor = conn.cursor()
            # Writers wait on the lock (no error); they lose their connection at the stop and
            # find out whether their statement ran on the new writer.
            cursor.execute("FLUSH TABLES WITH READ LOCK")
            cursor.execute("SELECT @@global.gtid_binlog_pos")
            row = cursor.fetchone()
            position = str(row[0]) if row and row[0] else ""
            if position:
                cluster = head.cluster
                assert isinstance(cluster, MariaDBCluster)
                result = cluster._execute(head, "SELECT MASTER_GTID_WAIT(%s, 60)", params=(position,))
                if not result or result[0][0] != 0:
                    raise TimeoutError(f"{head.name} did not receive {position} within 60 s")
            self._stop_cleanly(old)
        finally:
            try:
                conn.close()
            except Exception:  # the server is gone: nothing to release
                pass

    def _slave_status(self, instance: Instance) -> dict[str, Any]:
        conn = self.admin_connect(instance)
        try:
            cursor = conn.cursor(dictionary=True)
            cursor.execute("SHOW SLAVE STATUS")
            rows = cursor.fetchall()
            cursor.close()
            return dict(rows[0]) if rows else {}
        finally:
            conn.close()


def _q(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
