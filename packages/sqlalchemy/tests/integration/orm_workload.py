"""An ORM workload through a failover: SQLAlchemy Session units of work on several threads.

Each unit of work inserts two rows (``part`` 0 and 1) in one transaction, and each row records,
computed by the server, which instance executed it. An application that gets an error simply
moves on to its next unit of work (a new ``seq``): it never re-runs a unit whose outcome is
unknown, so nothing can be applied twice by the application itself.

Durability note (as in sturdydb-failover's scenarios): the test clusters replicate
asynchronously while Aurora's storage is shared, so :func:`start_failover` cuts the writer off
first and lets the replicas catch up before killing or freezing it; from the application's
side that is a crashed (or hung) writer, and every acknowledged commit survives as on Aurora.
"""

from __future__ import annotations

import concurrent.futures
import statistics
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from sturdydb_testing import Cluster, Instance
from sturdydb_testing.drivers import DEFAULT_DRIVERS, Driver
from sturdydb_testing.workers import join_by_deadline

PLUGINS = "aurora_connection_tracker,failover,host_monitoring"


#: The sturdydb SQLAlchemy dialect of each driver (``sturdydb_testing.drivers.Driver.name``).
SCHEMES = {"psycopg": "postgresql+sturdydb", "psycopg2": "postgresql+sturdydb_psycopg2",
           "mysql-connector-python": "mysql+sturdydb", "pymysql": "mysql+sturdydb_pymysql"}


def engine_for(cluster: Cluster, driver: Driver | None = None, *, props: Mapping[str, Any] | None = None,
               **engine_kw: Any) -> sa.Engine:
    """An engine on the cluster endpoint through the sturdydb dialect of ``driver`` (default:
    the cluster engine's default driver); ``props``: more sturdydb properties."""
    driver = driver or DEFAULT_DRIVERS[cluster.engine]
    kw = cluster.connect_kwargs()
    url = sa.URL.create(SCHEMES[driver.name], username=kw["user"], password=kw["password"], host=kw["host"],
                        port=kw["port"], database=cluster.dbname)
    connect_args: dict[str, Any] = {"plugins": PLUGINS, "failover_timeout_sec": 60, "connect_timeout": 3,
                                    "socket_timeout": 2, **driver.options, **(props or {})}
    return sa.create_engine(url, connect_args=connect_args, **engine_kw)


def node_expression(cluster: Cluster) -> Any:
    """SQL that the server evaluates to its own instance name."""
    if cluster.engine == "pg":
        return sa.func.aurora_db_instance_identifier()
    return sa.literal_column("@@aurora_server_id")


class Base(orm.DeclarativeBase):
    pass


def unit_model(table: str) -> type[Any]:
    """A mapped class on a fresh table (one per scenario)."""

    class Unit(Base):
        __tablename__ = table
        worker: orm.Mapped[int] = orm.mapped_column(primary_key=True, autoincrement=False)
        seq: orm.Mapped[int] = orm.mapped_column(primary_key=True, autoincrement=False)
        part: orm.Mapped[int] = orm.mapped_column(primary_key=True, autoincrement=False)
        node: orm.Mapped[str] = orm.mapped_column(sa.String(64))

    return Unit


def new_unit_table(engine: sa.Engine) -> type[Any]:
    model = unit_model(f"sa_units_{uuid.uuid4().hex[:10]}")
    model.__table__.create(engine)
    return model


def start_failover(cluster: Cluster, old_writer: str) -> concurrent.futures.Future[Instance]:
    """Cut the writer off, let the replicas catch up, then kill/freeze it and promote a replica."""
    old = cluster.writer
    assert old is not None
    before = len(cluster.events)
    cluster.blackhole(old)
    cluster.wait_for_replication(timeout=20)
    future = cluster.failover_in_background(old_writer=old_writer)  # type: ignore[arg-type]
    deadline = time.monotonic() + 20
    while not any(e.kind == old_writer and e.instance_name == old.name for e in cluster.events[before:]):
        assert time.monotonic() < deadline, "the failover did not start"
        time.sleep(0.005)
    cluster.restore(old)
    return future


@dataclass
class WorkerLog:
    committed: list[int] = field(default_factory=list)
    attempted: set[int] = field(default_factory=set)
    #: (seq, monotonic time, the DBAPI error SQLAlchemy wrapped, the SQLAlchemy exception)
    errors: list[tuple[int, float, BaseException, BaseException]] = field(default_factory=list)
    #: monotonic time of the first commit after the last error
    resumed_at: float | None = None
    #: the ``seq`` of the unit this worker is on (set by the worker, read by the main thread)
    current_seq: int = 0
    #: the last ``seq`` this worker had started when the failover was over (``None``: not yet)
    seq_at_failover_end: int | None = None

    def caught_up(self, after_failover: int) -> bool:
        """Whether this worker committed ``after_failover`` units since the failover ended for it.

        For a worker that got an error, that is since its last error. A worker may also never
        get one, and rightly so: a worker whose connection was back in the pool when the writer
        died meets the failover in the pool's rollback on checkin (or in a pre-ping), which the
        sturdydb dialects count as a success, so its next unit runs on the new writer. For such
        a worker the units counted are those begun after the failover was over.
        """
        if self.errors:
            since = self.errors[-1][0]
            if self.resumed_at is None:
                return False
        elif self.seq_at_failover_end is not None:
            since = self.seq_at_failover_end
        else:
            return False
        return sum(1 for s in self.committed if s > since) >= after_failover


def warm_up(engine: sa.Engine, n: int, timeout: float = 30.0) -> None:
    """Fill the pool with ``n`` working connections before the scenario starts.

    The session cluster was healed just before the test (an instance rebuilt, endpoints
    moved), and a connection opened in that moment can fail with a plain driver error before
    any fault of this test: that is not what the scenario measures.
    """
    deadline = time.monotonic() + timeout
    conns: list[sa.Connection] = []
    try:
        while len(conns) < n:
            try:
                conn = engine.connect()
                conn.execute(sa.text("SELECT 1"))
                conn.rollback()
                conns.append(conn)
            except sa.exc.DBAPIError:
                assert time.monotonic() < deadline, "the cluster did not accept connections"
                time.sleep(0.1)
    finally:
        for conn in conns:
            conn.close()


def run_workload(
    engine: sa.Engine, model: type[Any], cluster: Cluster, *, threads: int = 8,
    fault: Any, after_failover: int = 10, timeout: float = 90.0,
) -> tuple[dict[int, WorkerLog], Instance, float]:
    """Run units of work on ``threads`` threads, start ``fault`` after a few, stop once every
    worker committed ``after_failover`` units after the failover. Returns the logs, the new
    writer and the monotonic time of its promotion."""
    Session = orm.sessionmaker(engine, expire_on_commit=False)
    node = node_expression(cluster)
    logs = {w: WorkerLog() for w in range(threads)}
    failures: list[BaseException] = []
    done = threading.Event()
    started = threading.Event()
    future: list[concurrent.futures.Future[Instance]] = []
    go = threading.Barrier(threads + 1)

    def worker(w: int) -> None:
        log = logs[w]
        seq = 0
        try:
            go.wait()
            deadline = time.monotonic() + timeout
            while not done.is_set():
                assert time.monotonic() < deadline, f"worker {w}: no end within {timeout} s: {log.errors}"
                seq += 1
                if w == 0 and seq == 5 and not started.is_set():
                    started.set()
                    future.append(fault())
                log.attempted.add(seq)
                log.current_seq = seq
                try:
                    with Session() as session, session.begin():
                        session.add_all([model(worker=w, seq=seq, part=p, node=node) for p in (0, 1)])
                except sa.exc.DBAPIError as exc:
                    # Move on to the next unit of work: never re-run one whose outcome is unknown.
                    log.errors.append((seq, time.monotonic(), exc.orig, exc))
                    log.resumed_at = None
                    continue
                if log.errors and log.resumed_at is None:
                    log.resumed_at = time.monotonic()
                log.committed.append(seq)
        except BaseException as exc:
            failures.append(exc)

    warm_up(engine, threads)
    workers = [threading.Thread(target=worker, args=(w,), name=f"orm-worker-{w}", daemon=True)
               for w in range(threads)]
    for t in workers:
        t.start()
    go.wait()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not failures:
        if future and future[0].done():
            future[0].result()
            for log in logs.values():
                if log.seq_at_failover_end is None:
                    log.seq_at_failover_end = log.current_seq
            if all(log.caught_up(after_failover) for log in logs.values()):
                break
        time.sleep(0.05)
    done.set()
    stuck = join_by_deadline(workers, 30)
    assert not stuck, f"workers still blocked in a database call 30 s after the end: {stuck}"
    assert not failures, failures
    assert future, "the fault never started"
    new = future[0].result(60)
    promoted = [e.monotonic for e in cluster.events if e.kind == "promote" and e.instance_name == new.name]
    return logs, new, promoted[-1]


def verify(cluster: Cluster, engine: sa.Engine, model: type[Any], logs: dict[int, WorkerLog],
           old_writer: str, new_writer: str) -> None:
    """Every committed unit is on the new writer exactly once (both rows), no unit is half there,
    nothing nobody wrote is there, and every row was executed by the old or the new writer."""
    # The same driver without the plugins (mysql-connector in its pure-Python mode, as the workload).
    mysql_connector = cluster.engine == "mysql" and engine.dialect.driver == "sturdydb"
    plain: dict[str, Any] = {"plugins": "", **({"use_pure": True} if mysql_connector else {})}
    check = sa.create_engine(engine.url, poolclass=sa.NullPool, connect_args=plain)
    table = model.__table__
    kw = cluster.connect_kwargs(cluster.writer)
    url = check.url.set(host=kw["host"], port=kw["port"])
    check.dispose()
    check = sa.create_engine(url, poolclass=sa.NullPool, connect_args=plain)
    try:
        with check.connect() as conn:
            where = conn.execute(sa.select(node_expression(cluster))).scalar()
            assert where == new_writer, f"verifying on {where}, not on the new writer {new_writer}"
            rows = conn.execute(sa.select(table.c.worker, table.c.seq, table.c.part, table.c.node)).all()
    finally:
        check.dispose()
    present: dict[tuple[int, int], list[int]] = {}
    nodes: set[str] = set()
    for w, s, p, n in rows:
        present.setdefault((int(w), int(s)), []).append(int(p))
        nodes.add(str(n))
    committed = {(w, s) for w, log in logs.items() for s in log.committed}
    attempted = {(w, s) for w, log in logs.items() for s in log.attempted}
    missing = sorted(committed - set(present))
    assert not missing, f"committed units missing on the new writer: {missing[:10]}"
    wrong = {k: parts for k, parts in present.items() if sorted(parts) != [0, 1]}
    assert not wrong, f"units applied partly or twice: {wrong}"
    unexpected = sorted(set(present) - attempted)
    assert not unexpected, f"units nobody wrote: {unexpected[:10]}"
    assert nodes <= {old_writer, new_writer}, f"rows written on a wrong node: {nodes - {old_writer, new_writer}}"


def resume_delays(logs: dict[int, WorkerLog], promoted_at: float) -> list[float]:
    """Per worker: seconds from the promotion to its first commit after its last error."""
    return [max(0.0, log.resumed_at - promoted_at) for log in logs.values() if log.resumed_at is not None]


def summary(delays: list[float]) -> str:
    if not delays:
        return "no resume times"
    return f"resume after promotion: median {statistics.median(delays):.3f} s, max {max(delays):.3f} s"
