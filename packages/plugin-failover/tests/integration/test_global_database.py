"""Aurora Global Database scenarios on the emulation of ``sturdydb_testing.global_db``.

Writers connect through the global writer endpoint with ``failover`` (the reference's
``gdb_failover``) and keep inserting rows keyed by a unique id while the database switches
over (managed, no data loss) or fails over (the writer region lost; the secondary head is a
synchronous standby, Aurora's RPO at zero, so no acknowledged commit can be lost by the
*database*). Afterwards every acknowledged id must be on the new writer exactly once, and
every row must have been written by one of the two writers (the server stamps its own id).
Each scenario runs on both engines: PostgreSQL, and MariaDB emulating Aurora MySQL.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import sturdydb
from sturdydb.plugin_api import cluster_topology
from sturdydb_testing.global_db import GlobalDatabase

pytestmark = pytest.mark.integration

WORKERS = 3
ENGINES = ["pg", "mysql"]

#: The server's own instance id, as each engine's Aurora answers it.
_NODE_SQL = {"pg": "pg_catalog.aurora_db_instance_identifier()", "mysql": "@@aurora_server_id"}


def _connect(gdb: GlobalDatabase, host: Any = None, **props: Any) -> sturdydb.Connection:
    return gdb.connect(host, **props)


def _one(cur: Any) -> Any:
    # The whole result: mysql-connector's default cursor refuses the next statement otherwise.
    rows = cur.fetchall()
    return rows[0] if rows else None


def _where(conn: sturdydb.Connection) -> str:
    cur = conn.cursor()
    cur.execute("SELECT " + _NODE_SQL["mysql" if conn.context.dialect.family == "mysql" else "pg"])
    row = _one(cur)
    assert row is not None
    return str(row[0])


class Writers:
    """Threads that insert unique ids until stopped, recording what was acknowledged."""

    def __init__(self, gdb: GlobalDatabase, table: str, **props: Any) -> None:
        self.gdb, self.table, self.props = gdb, table, props
        self.acked: list[str] = []
        self.unknown: list[str] = []
        self.errors: list[BaseException] = []
        self.last_node: dict[int, str] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), name=f"gdb-writer-{i}", daemon=True)
                         for i in range(WORKERS)]

    def __enter__(self) -> Writers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(120)

    def _run(self, worker: int) -> None:
        try:
            conn = _connect(self.gdb, **self.props)
            while not self._stop.is_set():
                key = uuid.uuid4().hex
                while True:
                    try:
                        cur = conn.cursor()
                        cur.execute(f"INSERT INTO {self.table} (id, worker, node) VALUES "
                                    f"(%s, %s, {_NODE_SQL[self.gdb.engine]}) RETURNING node",
                                    (key, worker))
                        row = _one(cur)
                        assert row is not None
                        with self._lock:
                            self.acked.append(key)
                            self.last_node[worker] = str(row[0])
                        break
                    except sturdydb.FailoverSuccessError:
                        continue  # not applied: the same id again
                    except sturdydb.StatementOutcomeUnknownError:
                        # May have been applied: look it up by its key before writing it again.
                        cur = conn.cursor()
                        cur.execute(f"SELECT count(*) FROM {self.table} WHERE id = %s", (key,))
                        found = _one(cur)
                        if found is not None and found[0]:
                            with self._lock:
                                self.unknown.append(key)
                            break
                    except sturdydb.FailoverFailedError:
                        time.sleep(0.5)
                time.sleep(0.01)
            conn.close()
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)


def _check(gdb: GlobalDatabase, table: str, writers: Writers, nodes: set[str]) -> None:
    assert not writers.errors, writers.errors
    with _connect(gdb, plugins="") as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT id, count(*), min(node), max(node) FROM {table} GROUP BY id")
        rows = {str(r[0]): (int(r[1]), str(r[2]), str(r[3])) for r in cur.fetchall()}
    assert len(writers.acked) > 20
    lost = [k for k in writers.acked + writers.unknown if k not in rows]
    assert lost == [], f"{len(lost)} acknowledged writes lost"
    duplicates = [k for k, (n, _, _) in rows.items() if n != 1]
    assert duplicates == [], f"{len(duplicates)} ids written more than once"
    wrong = {k: v for k, v in rows.items() if v[1] not in nodes or v[2] not in nodes}
    assert wrong == {}, f"rows written on a node that was never the writer: {wrong}"


def _new_table(gdb: GlobalDatabase) -> str:
    table = f"gdb_{uuid.uuid4().hex[:10]}"
    with _connect(gdb, plugins="") as conn:
        conn.cursor().execute(f"CREATE TABLE {table} (id varchar(64) NOT NULL, worker int NOT NULL, "
                              "node varchar(64) NOT NULL)")
    gdb.wait_for_replication()
    return table


@pytest.mark.parametrize("engine", ENGINES)
def test_managed_switchover_loses_and_duplicates_nothing(engine: Any) -> None:
    with GlobalDatabase(replicas=1, dns_delay=1.0, engine=engine) as gdb:
        old = gdb.writer.name
        table = _new_table(gdb)
        with Writers(gdb, table) as writers:
            time.sleep(1.5)
            new = gdb.switchover()
            assert gdb.writer_region == "us-west-2"
            time.sleep(4)
        _check(gdb, table, writers, {old, new.name})
        # Every writer ended on the new global writer, in the other region.
        assert set(writers.last_node.values()) == {new.name}


@pytest.mark.parametrize("engine", ENGINES)
def test_unplanned_failover_of_the_writer_region_loses_nothing(engine: Any) -> None:
    with GlobalDatabase(replicas=1, dns_delay=1.0, rpo_zero=True, engine=engine) as gdb:
        old = gdb.writer.name
        table = _new_table(gdb)
        with Writers(gdb, table) as writers:
            time.sleep(1.5)
            new = gdb.failover(outage="region")
            time.sleep(4)
        _check(gdb, table, writers, {old, new.name})
        assert set(writers.last_node.values()) == {new.name}


@pytest.mark.parametrize("engine", ENGINES)
def test_explicit_home_region_and_active_mode_put_writers_on_the_new_home_writer(engine: Any) -> None:
    """The application's home region is the secondary region, set explicitly; the writer region
    is lost and the writer moves home. The verified new writer is in the home region, so the
    active mode (``strict_writer``) decides, not the inactive one (``strict_any_reader``, which
    would put the writers on readers, where their INSERTs fail). Ignoring the explicit home
    region (the emulation's default is the first region) would also pick the inactive mode."""
    with GlobalDatabase(replicas=1, dns_delay=1.0, rpo_zero=True, engine=engine) as gdb:
        home = gdb.secondary_region
        assert gdb.writer_region != home
        old = gdb.writer.name
        table = _new_table(gdb)
        props = {"failover_home_region": home, "active_home_failover_mode": "strict_writer",
                 "inactive_home_failover_mode": "strict_any_reader"}
        with Writers(gdb, table, **props) as writers:
            time.sleep(1.5)
            new = gdb.failover(outage="region")
            time.sleep(4)
        assert gdb.region_of(new) == home
        _check(gdb, table, writers, {old, new.name})
        # Every writer connection landed on the new writer, in the home region.
        assert set(writers.last_node.values()) == {new.name}
        assert len(writers.last_node) == WORKERS


@pytest.fixture(scope="module", params=ENGINES)
def gdb(request: pytest.FixtureRequest) -> Iterator[GlobalDatabase]:
    with GlobalDatabase(replicas=1, dns_delay=0.5, engine=request.param) as database:
        yield database


def test_global_topology_names_every_instance_with_its_region(gdb: GlobalDatabase) -> None:
    with _connect(gdb) as conn:
        assert conn.context.dialect.code == f"global-aurora-{gdb.engine}"
        assert _where(conn) == gdb.writer.name  # the global writer endpoint reaches the writer
        hosts = cluster_topology(f"gdb-{gdb.name}").hosts
    regions = {h.host_id: h.region for h in hosts}
    assert regions == {i.name: gdb.region_of(i) for i in gdb.instances}


@pytest.mark.parametrize(("mode", "region"), [("strict_home_reader", "us-west-2"),
                                              ("strict_out_of_home_reader", "us-east-1")])
def test_reader_failover_stays_in_the_region_its_mode_names(gdb: GlobalDatabase, mode: str, region: str) -> None:
    gdb.regions["us-west-2"].heal()
    victim = gdb.regions["us-west-2"].readers[0]
    # The writer is in us-east-1, so a us-west-2 application uses its inactive-home mode.
    with _connect(gdb, victim, failover_home_region="us-west-2", inactive_home_failover_mode=mode) as conn:
        assert _where(conn) == victim.name
        gdb.regions["us-west-2"].kill(victim)
        with pytest.raises(sturdydb.FailoverSuccessError):
            conn.cursor().execute("SELECT 1")
        landed = _where(conn)
    assert gdb.region_of(landed) == region
    assert landed != gdb.writer.name
    gdb.regions["us-west-2"].heal()
