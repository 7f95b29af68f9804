"""A write workload through a Blue/Green switchover, and the checks of the guarantee.

Each writer thread inserts rows with a unique key through its own sturdydb connection in
autocommit. The server records where each row was written (PostgreSQL: the server's address;
MariaDB: its ``server_id``) and when (the server clock, the same machine clock as the
deployment's event times). The checks read every instance directly, not through sturdydb.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

import mysql.connector
import psycopg

import sturdydb
from sturdydb import FailoverSuccessError, TransactionResolutionUnknownError
from sturdydb_testing import BlueGreenDeployment, Cluster, Instance

TABLE = "bg_writes"


def target(cluster: Cluster) -> Any:
    return psycopg.Connection.connect if cluster.engine == "pg" else mysql.connector.connect


def sturdy_connect(cluster: Cluster, host: str | None = None, **options: Any) -> sturdydb.Connection:
    """A sturdydb connection to ``host`` (default: blue's cluster endpoint), in autocommit."""
    extra: dict[str, Any] = {"use_pure": True} if cluster.engine == "mysql" else {}
    try:
        where = cluster.connect_kwargs(host or "cluster")
    except KeyError:  # a name the cluster does not know (an -old1 name): pinned by the deployment
        where = {**cluster.connect_kwargs("cluster"), "host": host}
    kwargs = {**where, **extra, "autocommit": True, "connect_timeout": 5, **options}
    return sturdydb.connect(target(cluster), **kwargs)


def raw_query(cluster: Cluster, instance: Instance, sql: str, params: tuple[Any, ...] | None = None) -> list[Any]:
    """Run ``sql`` on ``instance`` with the raw driver by its address (no names, no sturdydb)."""
    kwargs = cluster.address_kwargs(instance)
    if cluster.engine == "pg":
        with psycopg.connect(**kwargs, autocommit=True, connect_timeout=5) as conn:
            cur = conn.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []
    conn = mysql.connector.connect(**kwargs, autocommit=True, use_pure=True, connection_timeout=5)
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        rows = list(cur.fetchall()) if cur.with_rows else []
        cur.close()
        return rows
    finally:
        conn.close()


def create_table(deployment: BlueGreenDeployment) -> None:
    blue = deployment.blue
    assert blue.writer is not None
    if blue.engine == "pg":
        sql = (f"CREATE TABLE {TABLE} (n bigserial PRIMARY KEY, k text NOT NULL, "
               "server text NOT NULL DEFAULT pg_catalog.inet_server_addr()::text, "
               "written_at double precision NOT NULL DEFAULT extract(epoch FROM clock_timestamp()))")
    else:
        sql = (f"CREATE TABLE {TABLE} (n BIGINT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(64) NOT NULL, "
               "server VARCHAR(64) NOT NULL, written_at DOUBLE NOT NULL)")
    raw_query(blue, blue.writer, sql)
    assert deployment.green is not None
    deployment.blue.wait_for_replication()


def insert_sql(cluster: Cluster) -> str:
    if cluster.engine == "pg":
        return f"INSERT INTO {TABLE} (k) VALUES (%s)"
    # MariaDB cannot default a column to @@server_id: the statement supplies it.
    return f"INSERT INTO {TABLE} (k, server, written_at) VALUES (%s, @@server_id, UNIX_TIMESTAMP(NOW(6)))"


def server_of(cluster: Cluster, instance: Instance) -> str:
    """What the ``server`` column says for a row written on ``instance``."""
    if cluster.engine == "pg":
        return raw_query(cluster, instance, "SELECT pg_catalog.inet_server_addr()::text")[0][0]  # type: ignore[no-any-return]
    return str(raw_query(cluster, instance, "SELECT @@server_id")[0][0])


@dataclass
class Workload:
    """What the writer threads saw."""

    acknowledged: list[tuple[str, float]] = field(default_factory=list)  # key, client time of the ack
    unknown: list[str] = field(default_factory=list)  # outcome unknown: maybe applied, not retried
    safe_errors: list[str] = field(default_factory=list)  # "not applied": retried with the same key
    other_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def write_through(deployment: BlueGreenDeployment, threads: int = 4, after: float = 1.0,
                  **options: Any) -> Workload:
    """Run ``threads`` writers through one switchover; return what they saw."""
    blue = deployment.blue
    work = Workload()
    stop = threading.Event()
    sql = insert_sql(blue)
    ready = threading.Barrier(threads + 1)

    def writer(index: int) -> None:
        conn = sturdy_connect(blue, **{"plugins": "bg", **options})
        try:
            cur = conn.cursor()
            ready.wait(30)
            key = f"{index}-{uuid.uuid4().hex}"
            while not stop.is_set():
                try:
                    cur.execute(sql, (key,))
                except FailoverSuccessError as exc:
                    # "Not applied, safe to run again": the same write is retried, so a wrong
                    # claim would show up as a duplicate.
                    with work.lock:
                        work.safe_errors.append(f"{type(exc).__name__}: {exc}")
                    cur = conn.cursor()
                    continue
                except TransactionResolutionUnknownError:
                    with work.lock:
                        work.unknown.append(key)
                    cur = conn.cursor()
                except Exception as exc:
                    with work.lock:
                        work.other_errors.append(f"{type(exc).__name__}: {exc}")
                    time.sleep(0.05)
                else:
                    with work.lock:
                        work.acknowledged.append((key, time.time()))
                key = f"{index}-{uuid.uuid4().hex}"
        finally:
            conn.close()

    workers = [threading.Thread(target=writer, args=(i,), name=f"bg-writer-{i}", daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    ready.wait(60)
    time.sleep(0.5)
    deployment.switchover()
    time.sleep(after)
    stop.set()
    for worker in workers:
        worker.join(60)
        if worker.is_alive():
            frame = sys._current_frames().get(worker.ident or 0)
            stack = "".join(traceback.format_stack(frame)) if frame is not None else "?"
            raise AssertionError(f"{worker.name} is still running:\n{stack}")
    print(f"acknowledged={len(work.acknowledged)} unknown={len(work.unknown)} "
          f"safe_errors={work.safe_errors[:3]} other_errors={work.other_errors[:3]} "
          f"max_gap={max_gap(work):.3f}s")
    return work


def max_gap(work: Workload) -> float:
    """The longest time between two acknowledged writes (any thread): the application's pause."""
    times = sorted(at for _, at in work.acknowledged)
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def assert_guarantee(deployment: BlueGreenDeployment, work: Workload) -> None:
    """Every acknowledged write once on green, none twice, none on blue after it was blocked."""
    blue, green = deployment.blue, deployment.green
    assert green is not None and blue.writer is not None and green.writer is not None
    rows = raw_query(green, green.writer, f"SELECT k, server, written_at FROM {TABLE}")
    counts: dict[str, int] = {}
    for key, _, _ in rows:
        counts[key] = counts.get(key, 0) + 1
    acked = [key for key, _ in work.acknowledged]
    lost = [key for key in acked if key not in counts]
    assert not lost, f"{len(lost)} acknowledged writes are missing on green: {lost[:5]}"
    twice = {key: n for key, n in counts.items() if n > 1}
    assert not twice, f"writes applied more than once: {twice}"
    blocked = deployment.event("blue_writes_blocked").wall_time
    blue_server = server_of(blue, blue.writer)
    green_server = server_of(green, green.writer)
    late = [(key, at) for key, server, at in rows if server == blue_server and float(at) > blocked]
    assert not late, f"writes landed on blue after its writes were blocked at {blocked}: {late[:5]}"
    # Old blue holds nothing that green lacks: nothing was written there after green stopped replicating.
    blue_keys = {key for (key,) in raw_query(blue, blue.writer, f"SELECT k FROM {TABLE}")}
    assert blue_keys <= set(counts), f"rows only on old blue: {sorted(blue_keys - set(counts))[:5]}"
    assert any(server == green_server for _, server, _ in rows), "no write reached green after the switchover"
    # The only errors are those that say what happened; none invites a retry that could duplicate.
    assert not work.other_errors, f"unexpected errors: {work.other_errors[:5]}"
