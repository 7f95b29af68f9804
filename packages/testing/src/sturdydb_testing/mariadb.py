"""MariaDB clusters: a primary with GTID binlog replicas, and the aurora-mysql surface.

Owns building instances (``mariadb-install-db`` per instance, in parallel), starting them as
an unprivileged user on their own loopback address, promotion (``STOP SLAVE; RESET SLAVE
ALL; SET GLOBAL read_only=OFF``), rewiring replicas (``CHANGE MASTER TO ...
MASTER_USE_GTID=slave_pos``), and the emulation objects the proxy's query rewrite
(:mod:`sturdydb_testing.mysql_protocol`) points at: a topology table the harness writes on
the writer (it replicates) and a ``replica_host_status`` view over it that reports the local
node as the only writer whenever it is not read-only.

Durability as Aurora's: its shared storage never loses a commit it acknowledged, so neither
may a promotion here. Binlog replication alone would: a writer frozen or killed between
answering a commit and sending it on left that commit on no replica (4 freezes in 25 lost 1 or
2 acknowledged rows; the demo's check found one in CI). The lost writer's binlog is still on
this machine's disk (written before the commit was answered), so a promotion replays whatever
of it the new writer lacks, with ``mariadb-binlog`` from the new writer's GTID position, as
a DBA saves a dead primary's binlog. That also covers relay logs it had not applied yet, which
``RESET SLAVE ALL`` deletes.

Every server start gets a new ``server_id``: a rebuilt old writer that kept its id would
silently skip its own old events and break replication later.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import os
import re
import shlex
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb_testing.binaries import MariaDBBinaries, find_mariadb
from sturdydb_testing.cluster import Cluster, Instance, InstanceState
from sturdydb_testing.multi_az import MYSQL_MULTI_AZ_SQL, mysql_grants, mysql_topology_rows
from sturdydb_testing.mysql_protocol import AuroraQueryRewriter
from sturdydb_testing.processes import ServerProcess, ServerUser, run_as, server_user

if TYPE_CHECKING:
    from collections.abc import Callable

    from sturdydb_testing.proxy import Rewriter

__all__ = ["MariaDBCluster"]

log = logging.getLogger("sturdydb_testing")

_REPLICATION_USER = "sturdydb_replicator"
#: How mariadb-binlog prints a transaction's GTID event ("... GTID 0-1-18 trans").
_GTID_EVENT = re.compile(r"\tGTID \d+-\d+-\d+")

_EMULATION_SQL = [
    "CREATE DATABASE sturdydb_aurora",
    """CREATE TABLE sturdydb_aurora.topology (
        server_id VARCHAR(64) PRIMARY KEY,
        session_id VARCHAR(64) NOT NULL,
        is_writer BOOLEAN NOT NULL,
        alive BOOLEAN NOT NULL,
        last_seen DATETIME(6) NULL,
        lag_ms DOUBLE NOT NULL DEFAULT 0
    )""",
    "CREATE TABLE sturdydb_aurora.heartbeat (id INT PRIMARY KEY, at DOUBLE NOT NULL)",
    # A replica whose SQL thread the harness stopped measures its own lag by the heartbeat it
    # applied last: its copy of the topology table is as stale as the rest of its data.
    """CREATE FUNCTION sturdydb_aurora.own_lag_ms() RETURNS DOUBLE NOT DETERMINISTIC READS SQL DATA
        RETURN IF(@@global.read_only = 1 AND (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
                                              WHERE VARIABLE_NAME = 'SLAVE_RUNNING') = 'OFF',
                  COALESCE((UNIX_TIMESTAMP(NOW(6)) - (SELECT at FROM sturdydb_aurora.heartbeat WHERE id = 1)) * 1000, 0),
                  0)""",
    # Views may not read system variables; functions may.
    "CREATE FUNCTION sturdydb_aurora.local_id() RETURNS VARCHAR(64) DETERMINISTIC RETURN @@global.report_host",
    "CREATE FUNCTION sturdydb_aurora.primary_here() RETURNS BOOLEAN DETERMINISTIC RETURN @@global.read_only = 0",
    """CREATE SQL SECURITY DEFINER VIEW sturdydb_aurora.replica_host_status AS
        SELECT
            t.server_id AS SERVER_ID,
            CASE WHEN (CASE WHEN sturdydb_aurora.primary_here() THEN t.server_id = sturdydb_aurora.local_id()
                            ELSE t.is_writer END)
                 THEN 'MASTER_SESSION_ID' ELSE t.session_id END AS SESSION_ID,
            CAST(1.5 AS DOUBLE) AS CPU,
            CASE WHEN (CASE WHEN sturdydb_aurora.primary_here() THEN t.server_id = sturdydb_aurora.local_id()
                            ELSE t.is_writer END)
                 THEN CAST(0 AS DOUBLE)
                 ELSE GREATEST(t.lag_ms, IF(t.server_id = sturdydb_aurora.local_id(), sturdydb_aurora.own_lag_ms(), 0))
                 END AS REPLICA_LAG_IN_MILLISECONDS,
            CASE WHEN t.alive THEN NOW(6) ELSE t.last_seen END AS LAST_UPDATE_TIMESTAMP,
            t.server_id = sturdydb_aurora.local_id() AS IS_CURRENT
        FROM sturdydb_aurora.topology t
        WHERE t.alive OR t.last_seen IS NOT NULL""",
]


def _mysql_connector() -> Any:
    try:
        import mysql.connector
    except ImportError:
        raise RuntimeError(
            "MariaDBCluster needs mysql-connector-python to administer its servers: "
            "pip install 'sturdydb-testing[mysql]'"
        ) from None
    return mysql.connector


class MariaDBCluster(Cluster):
    """A real MariaDB primary with GTID replicas that looks like Aurora MySQL."""

    engine: ClassVar[str] = "mysql"
    standard_port: ClassVar[int] = 3306
    server_users: ClassVar[tuple[str, ...]] = ("mysql",)
    #: A promotion replays the lost writer's binlog (see the module docstring). A Global
    #: Database region has its own rules for what reaches the other region
    #: (:mod:`sturdydb_testing.global_db_mariadb`) and turns this off.
    replays_lost_writer: ClassVar[bool] = True

    def __init__(self, replicas: int = 2, **options: Any) -> None:
        super().__init__(replicas, **options)
        self._bin: MariaDBBinaries | None = None
        self._os_user: ServerUser | None = None
        self._replication_password = uuid.uuid4().hex
        self._session_ids: dict[str, str] = {}
        self._server_ids = itertools.count(1)
        self.server_ids: dict[str, int] = {}

    # ------------------------------------------------------------------ helpers
    def _prepare(self) -> None:
        self._bin = find_mariadb()
        _mysql_connector()
        self._os_user = server_user(self.server_users)

    @property
    def bin(self) -> MariaDBBinaries:
        assert self._bin is not None
        return self._bin

    @property
    def os_user(self) -> ServerUser:
        assert self._os_user is not None
        return self._os_user

    def _socket(self, instance: Instance) -> str:
        return str(instance.datadir.parent / "mysqld.sock")

    def admin_connect(self, instance: Instance, timeout: float = 5.0) -> Any:
        """A root connection over the instance's Unix socket (autocommit)."""
        conn = _mysql_connector().connect(
            unix_socket=self._socket(instance),
            user="root",
            password="",
            autocommit=True,
            connection_timeout=max(1, int(timeout)),
            use_pure=True,
        )
        return conn

    def _execute(
        self, instance: Instance, *statements: str, params: tuple[Any, ...] | None = None
    ) -> list[Any]:
        conn = self.admin_connect(instance)
        try:
            cursor = conn.cursor()
            rows: list[Any] = []
            for statement in statements:
                cursor.execute(statement, params)
                if cursor.with_rows:
                    rows = cursor.fetchall()
            cursor.close()
            return rows
        finally:
            conn.close()

    def _database_key(self) -> str:
        return "database"

    def _rewriter_factory(self, instance: Instance) -> Callable[[], Rewriter] | None:
        # MariaDB answers the Multi-AZ surface natively; only Aurora's needs rewriting.
        return AuroraQueryRewriter if self.kind == "aurora" else None

    def _start_server(self, instance: Instance, read_only: bool) -> None:
        folder = instance.datadir.parent
        server_id = self.server_ids[instance.name] = next(self._server_ids)
        argv = [
            self.bin.mariadbd,
            "--no-defaults",
            f"--datadir={instance.datadir}",
            f"--socket={self._socket(instance)}",
            f"--tmpdir={folder / 'tmp'}",
            f"--pid-file={folder / 'mysqld.pid'}",
            f"--bind-address={instance.direct_address}",
            f"--port={instance.direct_port}",
            f"--server-id={server_id}",
            f"--report-host={instance.name}",
            f"--report-port={instance.port}",
            "--log-bin=binlog",
            "--log-slave-updates=ON",
            "--binlog-format=ROW",
            "--log-bin-trust-function-creators=1",
            f"--read-only={'ON' if read_only else 'OFF'}",
            "--skip-ssl",
            "--skip-name-resolve",
            "--skip-log-error",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=16M",
            # 2, not 0: each commit reaches the OS (fsync stays once a second), so a SIGKILLed
            # server loses nothing. With 0 a killed replica restarted with a binlog ahead of
            # InnoDB, fetched the lost transactions again and binlogged them twice, and a
            # replica later rebuilt from its binlog applied them twice (duplicate rows, found
            # by the fault soak); a killed writer restarted in place lost acknowledged commits.
            "--innodb-flush-log-at-trx-commit=2",
            "--sync-binlog=0",
            "--max-connections=300",
            "--performance-schema=OFF",
            "--slave-net-timeout=5",
            "--character-set-server=utf8mb4",
        ]
        instance.process = ServerProcess(
            argv, self.os_user, folder / "server.log", {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        )
        socket_path = self._socket(instance)

        def ready() -> bool:
            if not os.path.exists(socket_path):
                return False
            try:
                self.admin_connect(instance, timeout=1).close()
            except Exception:
                return False
            return True

        instance.process.wait_for(ready, 60, f"MariaDB {instance.name}")
        instance.state = InstanceState.RUNNING

    def _install(self, instance: Instance) -> None:
        folder = instance.datadir.parent
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        (folder / "tmp").mkdir()
        self.os_user.chown(folder)
        self.os_user.chown(folder / "tmp")
        # A private tmpdir: concurrent bootstraps sharing /tmp collide on temp-table names.
        run_as(
            self.os_user,
            [
                self.bin.install_db,
                "--no-defaults",
                f"--datadir={instance.datadir}",
                f"--tmpdir={folder / 'tmp'}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                "--innodb-log-file-size=16M",
                "--innodb-buffer-pool-size=32M",
            ],
            timeout=120,
        )

    # ------------------------------------------------------------------ building
    def _create_primary(self, instance: Instance) -> None:
        # The replicas' system tables come from their own install (in parallel with ours);
        # everything created after this point reaches them through the binlog.
        self._install(instance)
        self._start_server(instance, read_only=False)
        user, password = _quote(self.user), _quote(self.password)
        self._execute(
            instance,
            f"CREATE USER '{_REPLICATION_USER}'@'%' IDENTIFIED BY '{self._replication_password}'",
            f"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{_REPLICATION_USER}'@'%'",
            f"CREATE DATABASE `{self.dbname}`",
            f"CREATE USER {user}@'%' IDENTIFIED BY {password}",
            f"GRANT ALL PRIVILEGES ON `{self.dbname}`.* TO {user}@'%'",
            *self._emulation_sql(user),
        )

    def _emulation_sql(self, user: str) -> list[str]:
        if self.kind == "multi-az":
            return [*MYSQL_MULTI_AZ_SQL, *mysql_grants(user)]
        if self.kind == "aurora":
            return [*_EMULATION_SQL, f"GRANT SELECT, EXECUTE ON sturdydb_aurora.* TO {user}@'%'"]
        return []

    def _create_replica(self, instance: Instance, primary: Instance) -> None:
        self._install(instance)
        self._start_server(instance, read_only=True)
        self._execute(instance, "SET GLOBAL gtid_slave_pos = ''")
        self._follow(instance, primary)

    def _restart(self, instance: Instance) -> None:
        self._start_server(instance, read_only=not instance.is_writer)

    # ------------------------------------------------------------------ roles
    def _promote(self, instance: Instance) -> None:
        self._execute(instance, "STOP SLAVE")
        old = self._writer
        if self.replays_lost_writer and old is not None and old is not instance and not old.running:
            self._replay_binlog(old, instance)
        self._execute(instance, "RESET SLAVE ALL", "SET GLOBAL read_only = OFF")

    def _replay_binlog(self, old: Instance, new: Instance) -> None:
        """Apply to ``new`` every transaction of ``old``'s binlog that ``new`` has not applied."""
        index = old.datadir / "binlog.index"
        if not index.exists():
            return
        files = [str(old.datadir / Path(line.strip()).name)
                 for line in index.read_text().splitlines() if line.strip()]
        rows = self._execute(new, "SELECT @@global.gtid_current_pos")
        position = str(rows[0][0]) if rows and rows[0][0] else ""
        script = new.datadir.parent / "tmp" / "replay.sql"
        # Not strict: in strict mode mariadb-binlog fails when the position is the binlog's
        # last GTID ("never reached expected GTID state"), the common case of nothing to replay.
        argv = [self.bin.binlog, "--skip-gtid-strict-mode", f"--result-file={script}", *files]
        if position:
            argv.insert(1, f"--start-position={position}")
        run_as(self.os_user, argv, timeout=60)
        if not _GTID_EVENT.search(script.read_text(errors="replace")):
            return  # nothing after the position: the new writer has it all
        log.info("replaying %s's binlog after %s on %s before its promotion", old.name,
                 position or "the start", new.name)
        # Fed on stdin: --binary-mode (for the row events' raw bytes) turns off "source".
        client = [self.bin.client, "--no-defaults", f"--socket={self._socket(new)}", "--user=root", "--binary-mode"]
        run_as(self.os_user, ["/bin/sh", "-c", f"exec {shlex.join(client)} < {shlex.quote(str(script))}"],
               timeout=60)

    def _follow(self, instance: Instance, primary: Instance) -> None:
        self._execute(
            instance,
            "STOP SLAVE",
            f"CHANGE MASTER TO MASTER_HOST='{primary.direct_address}', MASTER_PORT={primary.direct_port}, "
            f"MASTER_USER='{_REPLICATION_USER}', MASTER_PASSWORD='{self._replication_password}', "
            "MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos",
            "SET GLOBAL read_only = ON",
            "START SLAVE",
        )

    # ------------------------------------------------------------------ emulation
    def _publish_topology(self, writer: Instance) -> None:
        conn = self.admin_connect(writer)
        try:
            cursor = conn.cursor()
            # Logged as the statement, not as row images: a replica whose copy of this table
            # diverged (it published rows itself while it was the writer) replays the upsert
            # instead of stopping replication on "Duplicate entry" for a row image.
            cursor.execute("SET SESSION binlog_format = 'STATEMENT'")
            if self.kind == "multi-az":
                # Every start gives a server a new server_id, so the rows are rewritten whole.
                cursor.execute("DELETE FROM mysql.rds_topology")
                for row in mysql_topology_rows(self.server_ids, self):
                    cursor.execute("INSERT INTO mysql.rds_topology (id, endpoint, port) VALUES (%s, %s, %s)", row)
                cursor.close()
                return
            for instance in self.instances:
                session = self._session_ids.setdefault(instance.name, str(uuid.uuid4()))
                alive = instance.state in (InstanceState.RUNNING, InstanceState.FROZEN) and not (
                    instance.needs_rebuild and instance is not writer
                )
                cursor.execute(
                    """
                    INSERT INTO sturdydb_aurora.topology (server_id, session_id, is_writer, alive, last_seen)
                    VALUES (%s, %s, %s, %s, NULL)
                    ON DUPLICATE KEY UPDATE
                        last_seen = CASE
                            WHEN VALUES(alive) THEN NULL
                            WHEN NOT %s THEN NULL
                            WHEN alive THEN NOW(6)
                            ELSE last_seen END,
                        is_writer = VALUES(is_writer),
                        alive = VALUES(alive)
                    """,
                    (instance.name, session, instance is writer, alive, self.report_dead_instances),
                )
            cursor.close()
        finally:
            conn.close()

    # ------------------------------------------------------------------ replica lag
    def _pause_apply(self, instance: Instance) -> None:
        self._execute(instance, "STOP SLAVE SQL_THREAD")

    def _resume_apply(self, instance: Instance) -> None:
        self._execute(instance, "START SLAVE SQL_THREAD")

    def _write_heartbeat(self, writer: Instance, at: float) -> None:
        self._execute(writer, "CREATE TABLE IF NOT EXISTS sturdydb_aurora.heartbeat "
                              "(id INT PRIMARY KEY, at DOUBLE NOT NULL)")
        self._execute(writer, "INSERT INTO sturdydb_aurora.heartbeat VALUES (1, %s) "
                              "ON DUPLICATE KEY UPDATE at = VALUES(at)", params=(at,))

    def _read_heartbeat(self, instance: Instance) -> float | None:
        rows = self._execute(instance, "SELECT at FROM sturdydb_aurora.heartbeat WHERE id = 1")
        return float(rows[0][0]) if rows else None

    def _report_lag(self, writer: Instance, lags: dict[str, float]) -> None:
        statements = ["SET SESSION binlog_format = 'STATEMENT'"]
        statements += [f"UPDATE sturdydb_aurora.topology SET lag_ms = {float(lag)!r} WHERE server_id = {_quote(name)}"
                       for name, lag in lags.items()]
        self._execute(writer, *statements)

    # ------------------------------------------------------------------ replication
    def _wait_replicated(self, writer: Instance, readers: list[Instance], timeout: float) -> None:
        if not readers:
            return
        rows = self._execute(writer, "SELECT @@global.gtid_binlog_pos")
        position = rows[0][0] if rows else ""
        if not position:
            return
        deadline = time.monotonic() + timeout

        def wait_one(reader: Instance) -> None:
            remaining = max(0.1, deadline - time.monotonic())
            result = self._execute(reader, "SELECT MASTER_GTID_WAIT(%s, %s)", params=(position, remaining))
            if not result or result[0][0] != 0:
                status = self._execute(reader, "SHOW SLAVE STATUS")
                raise TimeoutError(
                    f"{reader.name} has not applied the writer's GTID {position} within {timeout:.0f} s; "
                    f"slave status: {status}"
                )

        with concurrent.futures.ThreadPoolExecutor(len(readers)) as pool:
            for future in [pool.submit(wait_one, r) for r in readers]:
                future.result()


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
