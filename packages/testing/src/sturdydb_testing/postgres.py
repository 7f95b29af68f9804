"""PostgreSQL clusters: a primary with streaming replicas, and the aurora-pg surface.

Owns building instances (``initdb`` once, ``pg_basebackup`` per replica), starting them as an
unprivileged user on their own loopback address, promotion (``pg_promote()``), rewiring
replicas (``ALTER SYSTEM SET primary_conninfo`` + reload: PostgreSQL 13+ follows the new
timeline without a restart), and the Aurora emulation that the aurora-pg dialect queries:

- ``rds.extensions`` in ``pg_catalog.pg_settings``: a placeholder setting is not visible
  there, so in these throw-away clusters only, the ``pg_settings`` view is replaced by one that
  adds that row;
- ``pg_catalog.aurora_db_instance_identifier()``: the per-instance ``sturdydb.instance_id``
  setting;
- ``pg_catalog.aurora_replica_status()``: rows from a small topology table the harness writes
  on the writer (it replicates), corrected by live state: a node that is not in recovery
  reports itself as the only writer, and the writer reports real replay lag from
  ``pg_stat_replication``.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import signal
import time
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb_testing.binaries import PostgresBinaries, find_postgres
from sturdydb_testing.cluster import Cluster, Instance, InstanceState
from sturdydb_testing.multi_az import PG_MULTI_AZ_SQL, PG_PUBLISH, pg_topology_rows
from sturdydb_testing.processes import ServerProcess, ServerUser, run_as, server_user

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresCluster"]

_REPLICATION_USER = "sturdydb_replicator"
_SUPERUSER = "postgres"

_COMMON_SETTINGS = """
# sturdydb-testing: a throw-away cluster, so durability is traded for speed. Commits stay
# synchronous (free without fsync) so WAL is shipped the moment a transaction commits.
fsync = off
full_page_writes = off
wal_level = replica
max_wal_senders = 16
max_replication_slots = 16
wal_keep_size = 512MB
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 100ms
shared_buffers = 32MB
max_connections = 200
password_encryption = 'scram-sha-256'
unix_socket_permissions = 0777
checkpoint_timeout = 30min
max_wal_size = 1GB
log_min_messages = warning
log_line_prefix = '%m [%p] '
"""

_HBA = """
local all all trust
local replication all trust
host all all 127.0.0.0/8 scram-sha-256
host replication all 127.0.0.0/8 scram-sha-256
"""

_EMULATION_SQL = """
SET allow_system_table_mods = on;
CREATE SCHEMA sturdydb_aurora;
CREATE TABLE sturdydb_aurora.topology (
    server_id text PRIMARY KEY,
    session_id text NOT NULL,
    is_writer boolean NOT NULL,
    alive boolean NOT NULL,
    last_seen timestamptz,
    lag_ms double precision NOT NULL DEFAULT 0
);
CREATE TABLE sturdydb_aurora.heartbeat (id integer PRIMARY KEY, at double precision NOT NULL);
GRANT USAGE ON SCHEMA sturdydb_aurora TO PUBLIC;
GRANT SELECT ON sturdydb_aurora.topology TO PUBLIC;

CREATE FUNCTION pg_catalog.aurora_db_instance_identifier() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT pg_catalog.current_setting('sturdydb.instance_id') $$;

CREATE FUNCTION pg_catalog.aurora_replica_status()
RETURNS TABLE (
    server_id text, session_id text, durable_lsn numeric, highest_lsn_rcvd numeric,
    current_read_lsn numeric, cur_replay_latency_in_usec numeric, active_txns text,
    is_current boolean, last_transport_error numeric, last_error_timestamp timestamptz,
    last_update_timestamp timestamptz, cpu double precision, replica_lag_in_msec double precision
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    WITH me AS (
        SELECT current_setting('sturdydb.instance_id') AS id, NOT pg_is_in_recovery() AS primary_here,
               -- a replica whose apply the harness paused measures its own lag by the heartbeat it
               -- applied last: its copy of the topology table is as stale as the rest of its data
               CASE WHEN pg_is_in_recovery() AND pg_is_wal_replay_paused() THEN
                   COALESCE((EXTRACT(EPOCH FROM clock_timestamp())
                             - (SELECT h.at FROM sturdydb_aurora.heartbeat h WHERE h.id = 1)) * 1000, 0)
               ELSE 0 END::double precision AS own_lag
    )
    SELECT
        t.server_id,
        CASE WHEN (CASE WHEN me.primary_here THEN t.server_id = me.id ELSE t.is_writer END)
             THEN 'MASTER_SESSION_ID' ELSE t.session_id END,
        NULL::numeric, NULL::numeric, NULL::numeric, NULL::numeric, NULL::text,
        t.server_id = me.id, 0::numeric, NULL::timestamptz,
        CASE WHEN t.alive THEN now() ELSE t.last_seen END,
        1.5::double precision,
        GREATEST(
            CASE WHEN me.primary_here AND t.server_id <> me.id THEN
                COALESCE((SELECT EXTRACT(EPOCH FROM r.replay_lag) * 1000 FROM pg_stat_replication r
                          WHERE r.application_name = t.server_id LIMIT 1), 0)::double precision
            ELSE 0::double precision END,
            -- measured by the harness's heartbeat while the replica's apply is paused
            CASE WHEN (CASE WHEN me.primary_here THEN t.server_id = me.id ELSE t.is_writer END)
                 THEN 0::double precision ELSE t.lag_ms END,
            CASE WHEN t.server_id = me.id THEN me.own_lag ELSE 0::double precision END)
    FROM sturdydb_aurora.topology t, me
    WHERE t.alive OR t.last_seen IS NOT NULL
    ORDER BY t.server_id
$$;

"""


def _settings_view(extensions: str) -> str:
    """``pg_settings`` with an ``rds.extensions`` row (what RDS and Aurora report)."""
    return f"""
CREATE OR REPLACE VIEW pg_catalog.pg_settings AS
    SELECT a.* FROM pg_catalog.pg_show_all_settings() a
    UNION ALL
    SELECT 'rds.extensions', '{extensions}', NULL, 'Customized Options',
           'Extensions installed on this instance (sturdydb-testing emulation).', NULL,
           'superuser', 'string', 'configuration file', NULL, NULL, NULL,
           '{extensions}', '{extensions}', NULL, NULL, false;
"""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise RuntimeError(
            "PostgresCluster needs psycopg 3 to administer its servers: pip install 'sturdydb-testing[postgres]'"
        ) from None
    return psycopg


class PostgresCluster(Cluster):
    """A real PostgreSQL primary with streaming replicas that looks like Aurora PostgreSQL."""

    engine: ClassVar[str] = "pg"
    standard_port: ClassVar[int] = 5432
    server_users: ClassVar[tuple[str, ...]] = ("postgres",)
    shutdown_signal: ClassVar[int] = signal.SIGINT  # "fast" shutdown

    def __init__(self, replicas: int = 2, **options: Any) -> None:
        super().__init__(replicas, **options)
        self._bin: PostgresBinaries | None = None
        self._os_user: ServerUser | None = None
        self._replication_password = uuid.uuid4().hex
        self._session_ids: dict[str, str] = {}

    # ------------------------------------------------------------------ helpers
    def _prepare(self) -> None:
        self._bin = find_postgres()
        _psycopg()
        self._os_user = server_user(self.server_users)

    @property
    def bin(self) -> PostgresBinaries:
        assert self._bin is not None
        return self._bin

    @property
    def os_user(self) -> ServerUser:
        assert self._os_user is not None
        return self._os_user

    def _socket_dir(self, instance: Instance) -> str:
        return str(instance.datadir.parent)

    def admin_connect(
        self, instance: Instance, dbname: str = "postgres", timeout: float = 5.0
    ) -> psycopg.Connection[Any]:
        """A superuser connection over the instance's Unix socket (autocommit)."""
        conn: psycopg.Connection[Any] = _psycopg().connect(
            host=self._socket_dir(instance),
            port=instance.direct_port,
            user=_SUPERUSER,
            dbname=dbname,
            autocommit=True,
            connect_timeout=max(1, int(timeout)),
        )
        return conn

    def _database_key(self) -> str:
        return "dbname"

    def _primary_conninfo(self, instance: Instance, primary: Instance) -> str:
        return (
            f"host={primary.direct_address} port={primary.direct_port} user={_REPLICATION_USER} "
            f"password={self._replication_password} application_name={instance.name} connect_timeout=2"
        )

    def _start_server(self, instance: Instance) -> None:
        sock_dir = self._socket_dir(instance)
        argv = [
            self.bin["postgres"],
            "-D",
            str(instance.datadir),
            "-c",
            f"listen_addresses={instance.direct_address}",
            "-c",
            f"port={instance.direct_port}",
            "-c",
            f"unix_socket_directories={sock_dir}",
            "-c",
            f"sturdydb.instance_id={instance.name}",
            "-c",
            f"sturdydb.dbi_resource_id={instance.resource_id}",
            "-c",
            f"cluster_name={self.name}-{instance.name}",
        ]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
        instance.process = ServerProcess(argv, self.os_user, instance.datadir.parent / "server.log", env)
        pid_file = instance.datadir / "postmaster.pid"

        def ready() -> bool:
            # Line 8 of postmaster.pid is the server status: "ready" or "standby" once it
            # accepts connections.
            try:
                lines = pid_file.read_text().splitlines()
            except OSError:
                return False
            return len(lines) >= 8 and lines[7].strip() in ("ready", "standby")

        instance.process.wait_for(ready, 60, f"PostgreSQL {instance.name}")
        instance.state = InstanceState.RUNNING

    # ------------------------------------------------------------------ building
    def _create_primary(self, instance: Instance) -> None:
        user = self.os_user
        user.chown(instance.datadir.parent)
        run_as(
            user,
            [
                self.bin["initdb"],
                "-D",
                str(instance.datadir),
                "-U",
                _SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "--no-instructions",
            ],
        )
        with open(instance.datadir / "postgresql.conf", "a") as conf:
            conf.write(_COMMON_SETTINGS)
        (instance.datadir / "pg_hba.conf").write_text(_HBA)
        self._start_server(instance)
        with self.admin_connect(instance) as conn:
            conn.execute(
                f"CREATE ROLE {_REPLICATION_USER} LOGIN REPLICATION PASSWORD '{self._replication_password}'"
            )
            conn.execute(
                f"CREATE ROLE {_quote_ident(self.user)} LOGIN PASSWORD {_quote_literal(self.password)}"
            )
            if self.aurora:
                if self.kind == "multi-az":
                    emulation = PG_MULTI_AZ_SQL + _settings_view("rds_tools,pg_stat_statements")
                else:
                    emulation = _EMULATION_SQL + _settings_view("aurora_stat_utils,pg_stat_statements")
                # template1 first, so the application database inherits the emulation.
                with self.admin_connect(instance, "template1") as template:
                    template.execute(emulation)
                conn.execute(emulation)
            conn.execute(f"CREATE DATABASE {_quote_ident(self.dbname)} OWNER {_quote_ident(self.user)}")
        with self.admin_connect(instance, self.dbname) as conn:
            conn.execute(f"ALTER SCHEMA public OWNER TO {_quote_ident(self.user)}")

    def _create_replica(self, instance: Instance, primary: Instance) -> None:
        user = self.os_user
        if instance.datadir.parent.exists():
            shutil.rmtree(instance.datadir.parent)
        instance.datadir.parent.mkdir()
        user.chown(instance.datadir.parent)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PGPASSWORD": self._replication_password}
        run_as(
            user,
            [
                self.bin["pg_basebackup"],
                "-D",
                str(instance.datadir),
                "-h",
                primary.direct_address,
                "-p",
                str(primary.direct_port),
                "-U",
                _REPLICATION_USER,
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
            env=env,
            timeout=120,
        )
        (instance.datadir / "standby.signal").touch()
        with open(instance.datadir / "postgresql.auto.conf", "a") as auto:
            auto.write(f"primary_conninfo = '{self._primary_conninfo(instance, primary)}'\n")
        self._start_server(instance)

    def _restart(self, instance: Instance) -> None:
        # Whatever role its data says (a killed writer recovers as a primary, a killed
        # replica as a standby).
        (instance.datadir / "postmaster.pid").unlink(missing_ok=True)
        self._start_server(instance)

    # ------------------------------------------------------------------ roles
    def _promote(self, instance: Instance) -> None:
        with self.admin_connect(instance) as conn:
            row = conn.execute("SELECT pg_catalog.pg_promote(true, 30)").fetchone()
            if not row or not row[0]:
                raise RuntimeError(f"pg_promote() on {instance.name} did not finish within 30 s")
        assert instance.process is not None
        instance.process.wait_for(
            lambda: self._is_primary(instance), 30, f"PostgreSQL {instance.name} promotion"
        )

    def _is_primary(self, instance: Instance) -> bool:
        with self.admin_connect(instance) as conn:
            row = conn.execute("SELECT NOT pg_catalog.pg_is_in_recovery()").fetchone()
            return bool(row and row[0])

    def _follow(self, instance: Instance, primary: Instance) -> None:
        with self.admin_connect(instance) as conn:
            conn.execute(
                f"ALTER SYSTEM SET primary_conninfo = {_quote_literal(self._primary_conninfo(instance, primary))}"
            )
            conn.execute("SELECT pg_catalog.pg_reload_conf()")

    # ------------------------------------------------------------------ emulation
    def _publish_topology(self, writer: Instance) -> None:
        if self.kind == "multi-az":
            for dbname in dict.fromkeys(("postgres", self.dbname)):
                with self.admin_connect(writer, dbname) as conn, conn.transaction():
                    for row in pg_topology_rows(self, writer):
                        conn.execute(PG_PUBLISH, row)
            return
        rows = []
        for instance in self.instances:
            session = self._session_ids.setdefault(instance.name, str(uuid.uuid4()))
            alive = instance.state in (InstanceState.RUNNING, InstanceState.FROZEN) and not (
                instance.needs_rebuild and instance is not writer
            )
            rows.append((instance.name, session, instance is writer, alive))
        # Each database has its own copy of the emulation: publish where clients look.
        for dbname in dict.fromkeys(("postgres", self.dbname)):
            with self.admin_connect(writer, dbname) as conn, conn.transaction():
                self._upsert_topology(conn, rows)

    def _upsert_topology(
        self, conn: psycopg.Connection[Any], rows: list[tuple[str, str, bool, bool]]
    ) -> None:
        for name, session, is_writer, alive in rows:
            conn.execute(
                """
                INSERT INTO sturdydb_aurora.topology AS t (server_id, session_id, is_writer, alive, last_seen)
                VALUES (%(name)s, %(session)s, %(writer)s, %(alive)s, NULL)
                ON CONFLICT (server_id) DO UPDATE SET
                    is_writer = excluded.is_writer,
                    alive = excluded.alive,
                    last_seen = CASE
                        WHEN excluded.alive THEN NULL
                        WHEN NOT %(report_dead)s THEN NULL
                        WHEN t.alive THEN now()
                        ELSE t.last_seen END
                """,
                {
                    "name": name,
                    "session": session,
                    "writer": is_writer,
                    "alive": alive,
                    "report_dead": self.report_dead_instances,
                },
            )

    # ------------------------------------------------------------------ replication
    # ------------------------------------------------------------------ replica lag
    def _pause_apply(self, instance: Instance) -> None:
        with self.admin_connect(instance) as conn:
            conn.execute("SELECT pg_catalog.pg_wal_replay_pause()")

    def _resume_apply(self, instance: Instance) -> None:
        with self.admin_connect(instance) as conn:
            conn.execute("SELECT pg_catalog.pg_wal_replay_resume()")

    def _write_heartbeat(self, writer: Instance, at: float) -> None:
        with self.admin_connect(writer, self.dbname) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS sturdydb_aurora.heartbeat "
                         "(id integer PRIMARY KEY, at double precision NOT NULL)")
            conn.execute("INSERT INTO sturdydb_aurora.heartbeat VALUES (1, %s) "
                         "ON CONFLICT (id) DO UPDATE SET at = excluded.at", (at,))

    def _read_heartbeat(self, instance: Instance) -> float | None:
        with self.admin_connect(instance, self.dbname) as conn:
            row = conn.execute("SELECT at FROM sturdydb_aurora.heartbeat WHERE id = 1").fetchone()
        return None if row is None else float(row[0])

    def _report_lag(self, writer: Instance, lags: dict[str, float]) -> None:
        for dbname in dict.fromkeys(("postgres", self.dbname)):
            with self.admin_connect(writer, dbname) as conn, conn.transaction():
                for name, lag in lags.items():
                    conn.execute("UPDATE sturdydb_aurora.topology SET lag_ms = %s WHERE server_id = %s",
                                 (lag, name))

    def _wait_replicated(self, writer: Instance, readers: list[Instance], timeout: float) -> None:
        if not readers:
            return
        with self.admin_connect(writer) as conn:
            # A standby (a Blue/Green green writer) has no current WAL position of its own:
            # what it replayed is what its replicas must reach.
            row = conn.execute(
                "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()"
                " ELSE pg_catalog.pg_current_wal_lsn() END::text"
            ).fetchone()
            assert row is not None
            lsn = row[0]
        deadline = time.monotonic() + timeout

        def wait_one(reader: Instance) -> None:
            with self.admin_connect(reader) as conn:
                while True:
                    row = conn.execute(
                        "SELECT COALESCE(pg_catalog.pg_last_wal_replay_lsn() >= %s::pg_lsn, false)", (lsn,)
                    ).fetchone()
                    if row and row[0]:
                        return
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"{reader.name} has not replayed the writer's WAL up to {lsn} within {timeout:.0f} s"
                        )
                    time.sleep(0.01)

        with concurrent.futures.ThreadPoolExecutor(len(readers)) as pool:
            for future in [pool.submit(wait_one, r) for r in readers]:
                future.result()


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
