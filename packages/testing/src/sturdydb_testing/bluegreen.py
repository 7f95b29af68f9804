"""Blue/Green deployments on real servers: two clusters, the status metadata, and a switchover.

RDS Blue/Green keeps a copy of a production cluster (blue) in sync as a staging cluster
(green) and, on request, switches them over. :class:`BlueGreenDeployment` builds that from
two of this package's Aurora-like clusters of one engine:

- **blue** is an ordinary :class:`~sturdydb_testing.Cluster`; **green** is a second cluster of
  the same engine whose writer replicates from blue's writer (PostgreSQL: a streaming standby
  of it; MariaDB: a GTID replica of it) and whose readers replicate from green's writer. Green
  shares blue's DNS domain and carries RDS's green names: ``<cluster>-green-<6 chars>.cluster-...``
  and ``<instance>-green-<6 chars>.<domain>``. Its instances report the instance ids they will
  have after the switchover (``instance-N``), which is what Aurora's topology shows then.
- **status metadata**, where the reference wrapper's ``bg`` plugin reads it: aurora-pg
  ``pg_catalog.get_blue_green_fast_switchover_metadata(text)`` and (aurora/rds-)mysql
  ``mysql.rds_topology``, each returning ``version, endpoint, port, role, status``: one row per
  endpoint of both sides (cluster, reader and instance endpoints), role
  ``BLUE_GREEN_DEPLOYMENT_SOURCE`` or ``..._TARGET``. Every instance of both sides holds its
  own copy (PostgreSQL: a per-instance setting the function reads, changed with ``ALTER
  SYSTEM``; MariaDB: the table written with ``sql_log_bin=0``), so the metadata can change on
  a standby and does not depend on replication.
- :meth:`BlueGreenDeployment.switchover` follows RDS's order of steps, each recorded in
  :attr:`~BlueGreenDeployment.events`: ``SWITCHOVER_INITIATED`` (preparation) for
  ``preparation_time``; ``SWITCHOVER_IN_PROGRESS``, then after ``block_delay`` blue's writes are
  blocked (read only) and every application connection of both sides is dropped
  (``blue_writes_blocked``); green replays everything blue committed (``green_caught_up``) and
  is promoted (``green_promoted``); the names are swapped (``renamed``: blue's endpoints get
  ``-old1`` names, green's get blue's names) with ``SWITCHOVER_IN_POST_PROCESSING``; after
  ``post_time`` ``SWITCHOVER_COMPLETED``. DNS follows the rename only ``dns_delay`` seconds
  later (``dns_switched``): until then blue's names (their :func:`sturdydb.map_host` pins and
  blue's endpoint proxies, which raw drivers reach by address) still lead to old blue, which
  stays up and read only. Green's names stay resolvable (nothing may reach real DNS here).

``block_delay`` is an assumption of this emulation, not a published RDS figure: the time
between the metadata saying "in progress" and writes being blocked, which is when a driver
that polls the metadata can hold its traffic. Set it to 0 to model a driver that never sees
the phase in time.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import secrets
import string
import threading
import time
from typing import Any, ClassVar

import sturdydb
from sturdydb_testing.cluster import Cluster, Instance
from sturdydb_testing.events import EventLog, FaultEvent
from sturdydb_testing.mariadb import MariaDBCluster
from sturdydb_testing.postgres import PostgresCluster

__all__ = ["PHASE_STATUS", "SOURCE", "TARGET", "BlueGreenDeployment"]

log = logging.getLogger("sturdydb_testing")

SOURCE = "BLUE_GREEN_DEPLOYMENT_SOURCE"
TARGET = "BLUE_GREEN_DEPLOYMENT_TARGET"

#: The ``status`` value RDS reports in each phase.
PHASE_STATUS: dict[str, str] = {
    "created": "AVAILABLE",
    "preparation": "SWITCHOVER_INITIATED",
    "in_progress": "SWITCHOVER_IN_PROGRESS",
    "post": "SWITCHOVER_IN_POST_PROCESSING",
    "completed": "SWITCHOVER_COMPLETED",
}

_PG_METADATA_FUNCTION = """
SET allow_system_table_mods = on;
CREATE FUNCTION pg_catalog.get_blue_green_fast_switchover_metadata(wrapper_version text)
RETURNS TABLE (version text, endpoint text, port integer, role text, status text)
LANGUAGE sql STABLE AS $$
    SELECT r.version, r.endpoint, r.port, r.role, r.status
    FROM pg_catalog.json_to_recordset(
        COALESCE(NULLIF(pg_catalog.current_setting('sturdydb.blue_green', true), ''), '[]')::json
    ) AS r(version text, endpoint text, port integer, role text, status text)
$$;
"""

_MYSQL_METADATA_TABLE = """CREATE TABLE mysql.rds_topology (
    id INT AUTO_INCREMENT PRIMARY KEY,
    version VARCHAR(16) NOT NULL,
    endpoint VARCHAR(255) NOT NULL,
    port INT NOT NULL,
    role VARCHAR(64) NOT NULL,
    status VARCHAR(64) NOT NULL
)"""


def _suffix() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(6))


def _rename_first_label(host: str, add: str = "", remove: str = "") -> str:
    first, _, rest = host.partition(".")
    if remove:
        first = first.removesuffix(remove)
    return f"{first}{add}.{rest}"


class _GreenSide(Cluster):
    """What makes a cluster the green side: built from blue's writer, green names, no own topology."""

    #: The engine class this green side is made of (its methods do the real work).
    _engine: ClassVar[type[Cluster]]
    _blue_source: Instance
    _green_suffix: str
    _following_blue: bool = True

    def _instance_host(self, index: int, domain: str) -> str:
        return f"instance-{index}-green-{self._green_suffix}.{domain}"

    def _create_primary(self, instance: Instance) -> None:
        # Green's writer is a replica of blue's writer until the switchover promotes it.
        self._engine._create_replica(self, instance, self._blue_source)

    def _create_replica(self, instance: Instance, primary: Instance) -> None:
        if isinstance(self, PostgresCluster) and self._following_blue and primary is not self._blue_source:
            # pg_basebackup refuses a standby as its source while full_page_writes is off:
            # copy blue's writer, then stream from green's (cascading, same timeline).
            self._engine._create_replica(self, instance, self._blue_source)
            self._follow(instance, primary)
            return
        self._engine._create_replica(self, instance, primary)

    def _publish_topology(self, writer: Instance) -> None:
        if self._following_blue:
            return  # read only: green shows blue's topology (replicated) until it is promoted
        self._engine._publish_topology(self, writer)


class BlueGreenDeployment:
    """A blue cluster, a green cluster replicating from it, and an RDS-like switchover."""

    _green_types: ClassVar[dict[type[Cluster], type[Cluster]]] = {}

    def __init__(
        self,
        engine: type[PostgresCluster] | type[MariaDBCluster],
        replicas: int = 1,
        *,
        name: str = "app",
        dns_delay: float = 5.0,
        preparation_time: float = 1.0,
        block_delay: float = 0.5,
        post_time: float = 0.5,
        **options: Any,
    ) -> None:
        if engine not in (PostgresCluster, MariaDBCluster):
            raise ValueError(f"engine must be PostgresCluster or MariaDBCluster, not {engine!r}")
        self.engine = engine
        self.replicas = replicas
        self.dns_delay = dns_delay
        self.preparation_time = preparation_time
        self.block_delay = block_delay
        self.post_time = post_time
        self.suffix = _suffix()
        self.blue: Cluster = engine(replicas, name=name, dns_delay=dns_delay, **options)
        self.green: Cluster | None = None
        self._options = options
        self._events = EventLog()
        self._timers: list[threading.Timer] = []
        self._pinned: list[str] = []
        self.phase = "none"
        #: endpoint name -> (port, role) as the metadata shows it now.
        self._rows: list[tuple[str, int, str]] = []
        self.switched = False

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> BlueGreenDeployment:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<BlueGreenDeployment {self.blue.name} phase={self.phase} blue={self.blue} green={self.green}>"

    @property
    def events(self) -> list[FaultEvent]:
        return self._events.snapshot()

    def event(self, kind: str) -> FaultEvent:
        """The newest event of ``kind`` (``KeyError`` when it has not happened)."""
        found = self._events.last(kind)
        if found is None:
            raise KeyError(f"no {kind!r} event yet; events: {[e.kind for e in self.events]}")
        return found

    def start(self) -> BlueGreenDeployment:
        """Start blue, create the metadata objects, build green from blue's writer."""
        began = time.monotonic()
        try:
            self.blue.start()
            self._create_metadata_objects()
            self.blue.wait_for_replication(timeout=30)
            self.green = self._build_green()
            self.green.start()
            # Green's writer has everything blue wrote so far (the metadata objects included).
            assert self.blue.writer is not None
            assert self.green.writer is not None
            self.green._wait_replicated(self.blue.writer, [self.green.writer], 30)
            self._rows = self._initial_rows()
            self._set_phase("created")
        except BaseException:
            self.stop()
            raise
        self._events.record("start", "", f"blue and green ready in {time.monotonic() - began:.2f} s")
        return self

    def stop(self) -> None:
        """Stop both clusters and every timer; unpin every name this deployment pinned."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for host in self._pinned:
            sturdydb.unmap_host(host)
        self._pinned.clear()
        if self.green is not None:
            self.green.stop()
        self.blue.stop()

    def _build_green(self) -> Cluster:
        green_type = self._green_types.get(self.engine)
        if green_type is None:
            green_type = type(f"Green{self.engine.__name__}", (_GreenSide, self.engine), {"_engine": self.engine})
            self._green_types[self.engine] = green_type
        blue = self.blue
        green: Any = green_type(
            self.replicas,
            name=f"{blue.name}-green-{self.suffix}",
            dns_delay=self.dns_delay,
            region=blue.region,
            user=blue.user,
            password=blue.password,
            dbname=blue.dbname,
            **self._options,
        )
        # RDS's DNS domain is per account and region: green lives beside blue.
        green.cluster_hash = blue.cluster_hash
        domain = f"{blue.cluster_hash}.{blue.region}.rds.amazonaws.com"
        green.cluster_host = f"{green.name}.cluster-{domain}"
        green.reader_host = f"{green.name}.cluster-ro-{domain}"
        green.instance_host_pattern = f"?.{domain}"
        green._blue_source = blue.writer
        green._green_suffix = self.suffix
        # Replication logs in with the user blue created (and green copied).
        green._replication_password = blue._replication_password  # type: ignore[attr-defined]
        if isinstance(green, MariaDBCluster):
            # A replica ignores events carrying its own server_id: green must never reuse blue's.
            green._server_ids = itertools.count(1001)
        result: Cluster = green
        return result

    # ------------------------------------------------------------------ names
    def _endpoints(self, cluster: Cluster) -> list[tuple[str, int]]:
        return [
            (cluster.cluster_host, cluster.cluster_endpoint.port),
            (cluster.reader_host, cluster.reader_endpoint.port),
            *((i.host, i.port) for i in cluster.instances),
        ]

    def _initial_rows(self) -> list[tuple[str, int, str]]:
        assert self.green is not None
        return [(h, p, SOURCE) for h, p in self._endpoints(self.blue)] + [
            (h, p, TARGET) for h, p in self._endpoints(self.green)
        ]

    def old_name(self, blue_host: str) -> str:
        """The ``-old1`` name a blue endpoint gets at the switchover."""
        return _rename_first_label(blue_host, add="-old1")

    def blue_name(self, green_host: str) -> str:
        """The name a green endpoint gets at the switchover (its blue counterpart's)."""
        return _rename_first_label(green_host, remove=f"-green-{self.suffix}")

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The metadata rows every instance reports now."""
        status = PHASE_STATUS.get(self.phase)
        if status is None:
            return []
        return [
            {"version": "1.0", "endpoint": host, "port": port, "role": role, "status": status}
            for host, port, role in self._rows
        ]

    # ------------------------------------------------------------------ metadata
    def _create_metadata_objects(self) -> None:
        blue = self.blue
        writer = blue.writer
        assert writer is not None
        if isinstance(blue, PostgresCluster):
            for dbname in dict.fromkeys(("postgres", blue.dbname)):
                with blue.admin_connect(writer, dbname) as conn:
                    conn.execute(_PG_METADATA_FUNCTION)
        else:
            assert isinstance(blue, MariaDBCluster)
            user = blue.user.replace("'", "\\'")
            blue._execute(writer, _MYSQL_METADATA_TABLE, f"GRANT SELECT ON mysql.rds_topology TO '{user}'@'%'")

    def _all_instances(self) -> list[tuple[Cluster, Instance]]:
        clusters = [self.blue] + ([self.green] if self.green is not None else [])
        return [(c, i) for c in clusters for i in c.instances if i.running]

    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        rows = self.rows
        for cluster, instance in self._all_instances():
            self._write_metadata(cluster, instance, rows)
        self._events.record(f"phase_{phase}", "", PHASE_STATUS[phase])
        log.info("%s blue/green phase: %s", self.blue.name, phase)

    def _write_metadata(self, cluster: Cluster, instance: Instance, rows: list[dict[str, Any]]) -> None:
        if isinstance(cluster, PostgresCluster):
            text = json.dumps(rows).replace("'", "''")
            with cluster.admin_connect(instance) as conn:
                conn.execute("SET default_transaction_read_only = off")
                # ALTER SYSTEM accepts a custom setting only once the session knows the name.
                conn.execute("SET sturdydb.blue_green = ''")
                conn.execute(f"ALTER SYSTEM SET sturdydb.blue_green = '{text}'")
                conn.execute("SELECT pg_catalog.pg_reload_conf()")
            return
        assert isinstance(cluster, MariaDBCluster)
        conn = cluster.admin_connect(instance)
        try:
            cursor = conn.cursor()
            # Per instance: a standby's copy changes without replication, as on RDS.
            cursor.execute("SET SESSION sql_log_bin = 0")
            # One transaction: a reader never sees the table empty between two phases.
            cursor.execute("START TRANSACTION")
            cursor.execute("DELETE FROM mysql.rds_topology")
            for row in rows:
                cursor.execute(
                    "INSERT INTO mysql.rds_topology (version, endpoint, port, role, status) VALUES (%s, %s, %s, %s, %s)",
                    (row["version"], row["endpoint"], row["port"], row["role"], row["status"]),
                )
            cursor.execute("COMMIT")
            cursor.close()
        finally:
            conn.close()

    # ------------------------------------------------------------------ switchover
    def switchover(self, timeout: float = 60.0) -> dict[str, float]:
        """Switch blue over to green (see the module docs); returns each step's wall time."""
        green = self.green
        if green is None or self.phase != "created":
            raise RuntimeError(f"a switchover needs a started deployment in phase 'created', not {self.phase!r}")
        blue_writer, green_writer = self.blue.writer, green.writer
        assert blue_writer is not None
        assert green_writer is not None
        self._set_phase("preparation")
        time.sleep(self.preparation_time)
        self._set_phase("in_progress")
        if self.block_delay > 0:
            time.sleep(self.block_delay)
        self._block_writes(self.blue, blue_writer)
        for cluster, instance in self._all_instances():
            self._drop_connections(cluster, instance)
        self._events.record("blue_writes_blocked", blue_writer.name)
        green._wait_replicated(blue_writer, [green_writer], timeout)
        self._events.record("green_caught_up", green_writer.name)
        green._promote(green_writer)
        green._following_blue = False  # type: ignore[attr-defined]
        green._publish_topology(green_writer)
        self._events.record("green_promoted", green_writer.name)
        self._rename()
        self._set_phase("post")
        time.sleep(self.post_time)
        self._set_phase("completed")
        self._schedule_dns()
        return {e.kind: e.wall_time for e in self.events}

    def switchover_in_background(self, timeout: float = 60.0) -> threading.Thread:
        """:meth:`switchover` on a named daemon thread (join it to wait)."""
        thread = threading.Thread(
            target=self.switchover, args=(timeout,), name="sturdydb-testing-switchover", daemon=True
        )
        thread.start()
        return thread

    def _block_writes(self, cluster: Cluster, writer: Instance) -> None:
        if isinstance(cluster, PostgresCluster):
            with cluster.admin_connect(writer) as conn:
                conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
                conn.execute("SELECT pg_catalog.pg_reload_conf()")
            # The reload is asynchronous: wait until a new session starts read only.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with cluster.admin_connect(writer) as conn:
                    row = conn.execute("SHOW default_transaction_read_only").fetchone()
                if row and row[0] == "on":
                    return
                time.sleep(0.01)
            raise TimeoutError(f"{writer.name} did not become read only within 10 s")
        assert isinstance(cluster, MariaDBCluster)
        cluster._execute(writer, "SET GLOBAL read_only = ON")

    def _drop_connections(self, cluster: Cluster, instance: Instance) -> None:
        """End every session the application user has now, and wait until they are gone.

        Sessions opened after this point are left alone (on blue they start read only): an
        application that reconnects in a loop must not keep the switchover waiting.
        """
        deadline = time.monotonic() + 10
        if isinstance(cluster, PostgresCluster):
            with cluster.admin_connect(instance) as conn:
                pids = [
                    row[0]
                    for row in conn.execute(
                        "SELECT pid FROM pg_catalog.pg_stat_activity WHERE usename = %s", (cluster.user,)
                    ).fetchall()
                ]
                if not pids:
                    return
                conn.execute("SELECT pg_catalog.pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
                while time.monotonic() < deadline:
                    row = conn.execute(
                        "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE pid = ANY(%s::int[])", (pids,)
                    ).fetchone()
                    if not row or not row[0]:
                        return
                    time.sleep(0.005)
            return
        assert isinstance(cluster, MariaDBCluster)
        ids = [
            int(row[0])
            for row in cluster._execute(
                instance, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", params=(cluster.user,)
            )
        ]
        for session_id in ids:
            with contextlib.suppress(Exception):  # it may have ended by itself
                cluster._execute(instance, f"KILL CONNECTION {session_id}")
        while ids and time.monotonic() < deadline:
            marks = ", ".join(str(i) for i in ids)
            if not cluster._execute(instance, f"SELECT ID FROM information_schema.PROCESSLIST WHERE ID IN ({marks})"):
                return
            time.sleep(0.005)

    def _rename(self) -> None:
        """Swap the names in the metadata and pin blue's new ``-old1`` names to old blue."""
        green = self.green
        assert green is not None
        renamed: list[tuple[str, int, str]] = []
        for host, port, role in self._rows:
            renamed.append((self.old_name(host) if role == SOURCE else self.blue_name(host), port, role))
        self._rows = renamed
        blue_writer = self.blue.writer
        assert blue_writer is not None
        pins = [(self.old_name(self.blue.cluster_host), blue_writer)]
        readers = self.blue.readers or [blue_writer]
        pins.append((self.old_name(self.blue.reader_host), readers[0]))
        pins += [(self.old_name(i.host), i) for i in self.blue.instances]
        for host, instance in pins:
            sturdydb.map_host(host, instance.address, instance.port)
            self._pinned.append(host)
        self.switched = True
        self._events.record("renamed", "", f"{self.blue.cluster_host} -> green, blue -> -old1")

    def _schedule_dns(self) -> None:
        green = self.green
        assert green is not None
        green_writer = green.writer
        assert green_writer is not None
        blue_instances = {i.index: i for i in self.blue.instances}

        def switch_dns() -> None:
            self.blue.cluster_endpoint.follow([green_writer], 0, self._events)
            self.blue.reader_endpoint.follow(green.readers or [green_writer], 0, self._events)
            for instance in green.instances:
                old = blue_instances.get(instance.index)
                if old is not None:
                    sturdydb.map_host(old.host, instance.address, instance.port)
            self._events.record("dns_switched", "", f"blue names now lead to {green.name}")

        if self.dns_delay <= 0:
            switch_dns()
            return
        timer = threading.Timer(self.dns_delay, switch_dns)
        timer.name = "sturdydb-testing-bg-dns"
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

