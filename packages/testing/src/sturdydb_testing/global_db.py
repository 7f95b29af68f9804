"""An Aurora Global Database emulated on real PostgreSQL or MariaDB servers: two regions, one writer.

Owns the cross-region shape: a primary region (a :class:`~sturdydb_testing.postgres.PostgresCluster`
whose head instance is the global writer) and a secondary region whose head instance streams
from the global writer and whose replicas cascade from that head, each region on its own
loopback addresses with Aurora-shaped names in its own AWS region. It publishes the status
functions the global dialect queries, a global writer endpoint
(``<name>.global-<hash>.global.rds.amazonaws.com``) that follows the writer after the DNS delay,
a managed cross-region switchover (no data loss) and an unplanned failover (the writer region
lost, the secondary region promoted).

Emulated surface (per the reference facts; every instance answers, it replicates):

- ``pg_catalog.aurora_global_db_instance_status()``: one row per live instance with
  ``server_id``, ``session_id`` (``MASTER_SESSION_ID`` for the global writer), ``aws_region``
  and ``visibility_lag_in_msec`` (the writer's measured replay lag for the instances that stream
  from it directly, 0 for cascaded replicas);
- ``pg_catalog.aurora_global_db_status()``: one row per region with its durability/RPO lag.

``engine="mysql"`` builds the regions on MariaDB instead (Aurora MySQL's
``information_schema.aurora_global_db_*`` surface, see :mod:`sturdydb_testing.global_db_mariadb`);
the PostgreSQL-specific steps below are :class:`RegionCluster` methods that the MariaDB region
implements too.

Durability: replication between regions is asynchronous, as in Aurora; ``rpo_zero=True``
makes the secondary head a synchronous standby (Aurora's ``rds.global_db_rpo`` at its limit),
so an unplanned failover loses no acknowledged commit. A managed switchover never loses one:
the writer is shut down cleanly, which ships all of its WAL before the secondary is promoted.
"""

from __future__ import annotations

import logging
import secrets
import string
import threading
import time
import uuid
from types import TracebackType
from typing import Any, Literal

import sturdydb
from sturdydb_testing.cluster import Endpoint, Instance, InstanceState, _quote
from sturdydb_testing.drivers import DEFAULT_DRIVERS
from sturdydb_testing.events import EventLog, FaultEvent
from sturdydb_testing.global_db_mariadb import MariaDBRegionCluster
from sturdydb_testing.loopback import AddressClaim, claim_address
from sturdydb_testing.mariadb import MariaDBCluster
from sturdydb_testing.postgres import PostgresCluster, _quote_literal

__all__ = ["GlobalDatabase", "RegionCluster"]

log = logging.getLogger("sturdydb_testing")

_GLOBAL_SQL = """
SET allow_system_table_mods = on;
CREATE TABLE sturdydb_aurora.global_topology (
    server_id text PRIMARY KEY,
    session_id text NOT NULL,
    aws_region text NOT NULL,
    is_writer boolean NOT NULL,
    alive boolean NOT NULL
);
GRANT SELECT ON sturdydb_aurora.global_topology TO PUBLIC;

CREATE FUNCTION pg_catalog.aurora_global_db_instance_status()
RETURNS TABLE (
    server_id text, session_id text, aws_region text, durable_lsn numeric, highest_lsn_rcvd numeric,
    feedback_epoch integer, feedback_xmin integer, oldest_read_view_lsn numeric,
    visibility_lag_in_msec numeric
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    WITH me AS (
        SELECT current_setting('sturdydb.instance_id') AS id, NOT pg_is_in_recovery() AS primary_here
    )
    SELECT
        t.server_id,
        -- A node out of recovery is the writer even before the harness republishes the table.
        CASE WHEN (CASE WHEN me.primary_here THEN t.server_id = me.id ELSE t.is_writer END)
             THEN 'MASTER_SESSION_ID' ELSE t.session_id END,
        t.aws_region, NULL::numeric, NULL::numeric, NULL::integer, NULL::integer, NULL::numeric,
        CASE WHEN me.primary_here AND t.server_id <> me.id THEN
            COALESCE((SELECT EXTRACT(EPOCH FROM r.replay_lag) * 1000 FROM pg_stat_replication r
                      WHERE r.application_name = t.server_id LIMIT 1), 0)::numeric
        ELSE 0::numeric END
    FROM sturdydb_aurora.global_topology t, me
    WHERE t.alive
    ORDER BY t.server_id
$$;

CREATE FUNCTION pg_catalog.aurora_global_db_status()
RETURNS TABLE (
    aws_region text, highest_lsn_written numeric, durability_lag_in_msec numeric,
    rpo_lag_in_msec numeric, last_lag_calculation_time timestamptz, feedback_epoch integer,
    feedback_xmin integer
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT r.aws_region, NULL::numeric, COALESCE(max(s.visibility_lag_in_msec), 0),
           COALESCE(max(s.visibility_lag_in_msec), 0), now(), NULL::integer, NULL::integer
    FROM (SELECT DISTINCT aws_region FROM sturdydb_aurora.global_topology) r
    LEFT JOIN pg_catalog.aurora_global_db_instance_status() s ON s.aws_region = r.aws_region
    GROUP BY r.aws_region
    ORDER BY r.aws_region
$$;
"""


class RegionCluster(PostgresCluster):
    """One region of a :class:`GlobalDatabase`: an Aurora-shaped cluster whose topology the
    global database publishes, and whose head may itself stream from another region."""

    def __init__(self, owner: GlobalDatabase, source: Instance | None, **options: Any) -> None:
        super().__init__(**options)
        self.owner = owner
        #: The instance the head streams from (another region's), None for the writer region.
        self.source = source

    def _create_primary(self, instance: Instance) -> None:
        if self.source is None:
            super()._create_primary(instance)
            with self.admin_connect(instance) as conn:
                conn.execute(_GLOBAL_SQL)
            with self.admin_connect(instance, self.dbname) as conn:
                conn.execute(_GLOBAL_SQL)
            return
        instance.datadir.parent.mkdir(exist_ok=True)
        self._create_replica(instance, self.source)

    def _create_replica(self, instance: Instance, primary: Instance) -> None:
        writer = self.owner.writer
        if primary is writer:
            super()._create_replica(instance, primary)
            return
        # A base backup from a standby needs full_page_writes, which these throw-away servers
        # turn off: copy the global writer, then cascade from the intended upstream.
        super()._create_replica(instance, writer)
        self._follow(instance, primary)

    def _publish_topology(self, writer: Instance) -> None:
        # One replication tree: the global writer holds the only writable copy of the tables.
        self.owner.publish()

    # ------------------------------------------------------------------ global hooks
    # The engine-specific steps of GlobalDatabase (the MariaDB region has the same methods).
    def write_global_topology(
        self, writer: Instance, rows: list[tuple[str, str, str, bool, bool]],
        local: list[tuple[str, str, bool, bool]],
    ) -> None:
        """Replace the global rows and this (the writer) region's rows, on the global writer."""
        for dbname in dict.fromkeys(("postgres", self.dbname)):
            with self.admin_connect(writer, dbname) as conn, conn.transaction():
                conn.execute("DELETE FROM sturdydb_aurora.global_topology")
                for row in rows:
                    conn.execute(
                        "INSERT INTO sturdydb_aurora.global_topology VALUES (%s, %s, %s, %s, %s)", row
                    )
                conn.execute("DELETE FROM sturdydb_aurora.topology")
                self._upsert_topology(conn, local)

    def set_rpo_standby(self, writer: Instance, standby: Instance | None) -> None:
        """Make ``standby`` (another region's head) acknowledge every commit of ``writer``, or none."""
        names = f'"{standby.name}"' if standby is not None else ""
        with self.admin_connect(writer) as conn:
            conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = {_quote_literal(names)}")
            conn.execute("SELECT pg_catalog.pg_reload_conf()")

    def prepare_promotion(self, new: Instance) -> None:
        # A promoted head must not wait for a synchronous standby it inherited by base backup.
        self.set_rpo_standby(new, None)

    def hand_over(self, old: Instance) -> None:
        """Stop the writer without losing a commit: a clean shutdown ships all of its WAL."""
        self._stop_cleanly(old)

    def _wait_replicated(self, writer: Instance, readers: list[Instance], timeout: float) -> None:
        if self.source is None:
            super()._wait_replicated(writer, readers, timeout)
            return
        # The head is a standby itself: wait until its replicas replayed what it replayed.
        deadline = time.monotonic() + timeout
        with self.admin_connect(writer) as conn:
            row = conn.execute("SELECT pg_catalog.pg_last_wal_replay_lsn()::text").fetchone()
        lsn = row[0] if row else None
        for reader in readers:
            with self.admin_connect(reader) as conn:
                while lsn is not None:
                    done = conn.execute(
                        "SELECT COALESCE(pg_catalog.pg_last_wal_replay_lsn() >= %s::pg_lsn, false)", (lsn,)
                    ).fetchone()
                    if done and done[0]:
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{reader.name} did not replay up to {lsn} in {timeout:.0f} s")
                    time.sleep(0.01)


def _hash() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))


class GlobalDatabase:
    """Two regions of PostgreSQL (or MariaDB) clusters replicating as an Aurora Global Database."""

    def __init__(
        self,
        replicas: int = 1,
        *,
        engine: Literal["pg", "mysql"] = "pg",
        regions: tuple[str, str] = ("us-east-1", "us-west-2"),
        name: str = "sturdydb-gdb",
        dns_delay: float = 2.0,
        rpo_zero: bool = False,
        **options: Any,
    ) -> None:
        if engine not in ("pg", "mysql"):
            raise ValueError(f"engine must be 'pg' (PostgreSQL) or 'mysql' (MariaDB), not {engine!r}")
        if len(regions) != 2 or regions[0] == regions[1]:
            raise ValueError(f"regions must be two different AWS regions, not {regions!r}")
        self.engine = engine
        self.name = name
        self.dns_delay = dns_delay
        self.rpo_zero = rpo_zero
        self._options = options
        self.replica_count = replicas
        self.regions: dict[str, RegionCluster | MariaDBRegionCluster] = {}
        self._region_names = regions
        self.writer_region = regions[0]
        self.global_host = f"{name}.global-{_hash()}.global.rds.amazonaws.com"
        self.global_endpoint: Endpoint | None = None
        self._claim: AddressClaim | None = None
        self._events = EventLog()
        self._lock = threading.RLock()
        self._sessions: dict[str, str] = {}
        self._replication_password = uuid.uuid4().hex

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> GlobalDatabase:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _region_cluster(
        self, region: str, index: int, source: Instance | None
    ) -> RegionCluster | MariaDBRegionCluster:
        options: dict[str, Any] = dict(
            replicas=self.replica_count, region=region, name=f"{self.name}-{index}",
            dns_delay=self.dns_delay, instance_prefix=f"{region}-db", **self._options,
        )
        cluster: RegionCluster | MariaDBRegionCluster
        if self.engine == "mysql":
            cluster = MariaDBRegionCluster(self, source, index, **options)
        else:
            cluster = RegionCluster(self, source, **options)
        # Every region streams with the same replication role (it is in the replicated catalog).
        cluster._replication_password = self._replication_password
        return cluster

    def start(self) -> GlobalDatabase:
        """Start the writer region, then the secondary region streaming from its writer."""
        try:
            first, second = self._region_names
            primary = self._region_cluster(first, 1, None)
            self.regions[first] = primary
            primary.start()
            assert primary.writer is not None
            secondary = self._region_cluster(second, 2, primary.writer)
            self.regions[second] = secondary
            secondary.start()
            standard_port = (MariaDBCluster if self.engine == "mysql" else PostgresCluster).standard_port
            self._claim = claim_address(standard_port)
            self.global_endpoint = Endpoint("cluster", self.global_host, self._claim)
            self.global_endpoint.follow([primary.writer], 0, self._events)
            self.global_endpoint.proxy.start()
            sturdydb.map_host(self.global_host, self._claim.address, self._claim.port)
            self._set_sync_standby(primary.writer, secondary.writer)
            self.publish()
            self.wait_for_replication()
        except BaseException:
            self.stop()
            raise
        self._events.record("start", "", f"global database {self.name} in {', '.join(self.regions)}")
        return self

    def stop(self) -> None:
        with self._lock:
            if self.global_endpoint is not None:
                sturdydb.unmap_host(self.global_host)
                self.global_endpoint.cancel_pending()
                self.global_endpoint.proxy.close()
                self.global_endpoint = None
            for cluster in reversed(list(self.regions.values())):
                cluster.stop()
            if self._claim is not None:
                self._claim.release()
                self._claim = None

    # ------------------------------------------------------------------ views
    @property
    def writer(self) -> Instance:
        """The global writer (the writer region's head instance)."""
        found = self.regions[self.writer_region].writer
        assert found is not None, "the global database is not started"
        return found

    @property
    def secondary_region(self) -> str:
        return next(r for r in self.regions if r != self.writer_region)

    @property
    def instances(self) -> list[Instance]:
        return [i for cluster in self.regions.values() for i in cluster.instances]

    def region_of(self, instance: Instance | str) -> str:
        name = instance if isinstance(instance, str) else instance.name
        for region, cluster in self.regions.items():
            if any(i.name == name for i in cluster.instances):
                return region
        raise KeyError(f"no instance {name!r} in {self.name}")

    def instance(self, name: str) -> Instance:
        return self.regions[self.region_of(name)].instance(name)

    @property
    def host_patterns(self) -> str:
        """The ``global_cluster_instance_host_patterns`` value for this database."""
        return ",".join(f"{region}:{cluster.instance_host_pattern}" for region, cluster in self.regions.items())

    @property
    def events(self) -> list[FaultEvent]:
        return self._events.snapshot()

    def conninfo(self, host: Instance | str | None = None, **extra: object) -> str:
        """A connection string to ``host`` (default: the global writer endpoint)."""
        if isinstance(host, Instance):
            return host.cluster.conninfo(host, **extra)
        if host is not None:
            return self.regions[self.region_of(host)].conninfo(host, **extra)
        assert self.global_endpoint is not None, "the global database is not started"
        cluster = self.regions[self.writer_region]
        # The global writer endpoint keeps its name; sturdydb maps it to the endpoint's proxy.
        params: dict[str, object] = {**cluster.connect_kwargs(cluster.writer), **extra}
        params.update(host=self.global_host, port=self.global_endpoint.port)
        return " ".join(f"{key}={_quote(value)}" for key, value in params.items())

    def connect(self, host: Instance | str | None = None, **props: Any) -> sturdydb.Connection:
        """A sturdydb connection to ``host`` (default: the global writer endpoint) through the
        engine's default driver (psycopg, or pure-Python mysql-connector).

        The global properties are set (``global_cluster_instance_host_patterns``, a
        ``cluster_id`` shared by every region, ``failover_home_region`` = the first region,
        autocommit, ``failover`` with a 60 s timeout); ``props`` override them.
        """
        driver = DEFAULT_DRIVERS[self.engine]
        options: dict[str, Any] = {
            **driver.options,
            "plugins": "failover",
            "failover_timeout_sec": 60,
            "connect_timeout": 3,
            "autocommit": True,
            "cluster_id": f"gdb-{self.name}",
            "global_cluster_instance_host_patterns": self.host_patterns,
            "failover_home_region": self._region_names[0],
        }
        options.update(props)
        return sturdydb.connect(driver.connect, self.conninfo(host), **options)

    # ------------------------------------------------------------------ emulation
    def publish(self) -> None:
        """Write the global and the writer region's topology on the global writer."""
        writer = self.writer
        rows: list[tuple[str, str, str, bool, bool]] = []
        for region, cluster in self.regions.items():
            for instance in cluster.instances:
                session = self._sessions.setdefault(instance.name, str(uuid.uuid4()))
                alive = instance.state in (InstanceState.RUNNING, InstanceState.FROZEN) and not instance.needs_rebuild
                rows.append((instance.name, session, region, instance is writer, alive))
        local = [(n, s, w, a) for n, s, r, w, a in rows if r == self.writer_region]
        self.regions[self.writer_region].write_global_topology(writer, rows, local)

    def _set_sync_standby(self, writer: Instance, standby: Instance | None) -> None:
        self.regions[self.region_of(writer)].set_rpo_standby(writer, standby if self.rpo_zero else None)

    def wait_for_replication(self, timeout: float = 30.0) -> None:
        """Return once every live instance of every region replayed the writer's WAL."""
        owner = self.regions[self.writer_region]
        live = [i for i in self.instances if i is not self.writer and i.running and not i.needs_rebuild]
        owner._wait_replicated(self.writer, live, timeout)

    # ------------------------------------------------------------------ cross-region moves
    def switchover(self) -> Instance:
        """A managed cross-region switchover: no commit is lost, the regions swap roles.

        The writer is shut down cleanly (its WAL reaches the secondary head first), the
        secondary head is promoted, the topology republished, the global writer endpoint
        follows after the DNS delay, and the old writer region is rebuilt as a secondary
        streaming from the new writer.
        """
        with self._lock:
            old_region, new_region = self.writer_region, self.secondary_region
            old, new = self.writer, self.regions[new_region].writer
            assert new is not None
            self._events.record("switchover_start", old.name, f"{old_region} -> {new_region}")
            old_cluster = self.regions[old_region]
            old_cluster.hand_over(old)
            old.needs_rebuild = True
            self._promote(new, new_region)
            self._events.record("switchover_promoted", new.name)
            self._rebuild_region(old_region)
            self._set_sync_standby(new, old_cluster.writer)
            self.publish()
            self._events.record("switchover_done", new.name)
            return new

    def failover(self, outage: Literal["region", "writer"] = "region") -> Instance:
        """An unplanned cross-region failover: the writer region is lost, the secondary promoted.

        ``outage="region"`` kills every instance of the writer region; ``"writer"`` kills only
        the writer (its region's replicas keep serving stale reads until rebuilt). The old
        region stays down until :meth:`rebuild_region`.
        """
        with self._lock:
            old_region, new_region = self.writer_region, self.secondary_region
            old_cluster = self.regions[old_region]
            new = self.regions[new_region].writer
            assert new is not None
            self._events.record("failover_start", self.writer.name, f"{old_region} -> {new_region}, {outage} lost")
            victims = old_cluster.instances if outage == "region" else [self.writer]
            for victim in victims:
                old_cluster.kill(victim)
                victim.needs_rebuild = True
            self._promote(new, new_region)
            self.publish()
            self._events.record("failover_done", new.name)
            return new

    def _promote(self, new: Instance, region: str) -> None:
        cluster = self.regions[region]
        cluster.prepare_promotion(new)
        cluster._promote(new)
        self.writer_region = region
        cluster.source = None
        self.publish()
        assert self.global_endpoint is not None
        self.global_endpoint.follow([new], self.dns_delay, self._events)

    def rebuild_region(self, region: str) -> None:
        """Bring a lost region back as a secondary streaming from the global writer."""
        with self._lock:
            if region == self.writer_region:
                raise ValueError(f"{region} is the writer region; only a secondary region is rebuilt")
            self._rebuild_region(region)
            self._set_sync_standby(self.writer, self.regions[region].writer)
            self.publish()

    def _rebuild_region(self, region: str) -> None:
        cluster = self.regions[region]
        head = cluster.writer
        assert head is not None
        cluster.source = self.writer
        for instance in [head, *cluster.readers]:
            upstream = self.writer if instance is head else head
            if instance.process is not None and instance.process.alive():
                instance.process.kill()
            cluster._proxy(instance).set_server_down(True)
            cluster._create_replica(instance, upstream)
            instance.following = upstream
            instance.needs_rebuild = False
            instance.state = InstanceState.RUNNING
            cluster._proxy(instance).set_server_down(False)
        self._events.record("rebuild_region", head.name, region)

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "writer_region": self.writer_region,
            "global_endpoint": self.global_host,
            "host_patterns": self.host_patterns,
            "regions": {region: cluster.status() for region, cluster in self.regions.items()},
        }
