"""Helpers for the read/write splitting scenarios: connect, ask where a statement ran, verify
that every acknowledged write is on the writer exactly once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import sturdydb
from sturdydb_testing import Cluster, Instance
from sturdydb_testing.drivers import Driver, connect_through
from sturdydb_testing.drivers import default_connect as driver_connect

PLUGINS = "read_write_splitting,failover"


def connect(
    cluster: Cluster, host: Instance | str | None = None, *, driver: Driver | None = None, **props: Any
) -> sturdydb.Connection:
    """A connection with read/write splitting and failover (autocommit unless ``props`` say)."""
    return connect_through(cluster, host, driver=driver, defaults={"plugins": PLUGINS, "autocommit": True}, **props)


def where(conn: sturdydb.Connection, cluster: Cluster) -> str:
    """The instance id the server reports for a statement on ``conn``."""
    cur = conn.cursor()
    cur.execute("SELECT pg_catalog.aurora_db_instance_identifier()" if cluster.engine == "pg"
                else "SELECT @@aurora_server_id")
    row = cur.fetchone()
    cur.fetchall()
    return str(row[0])


def reader_flips(conn: sturdydb.Connection, cluster: Cluster, times: int) -> list[str]:
    """Flip ``conn`` to read-only and back ``times`` times: the instance each read-only statement
    ran on, in order (each statement after a flip back is checked to run on the writer)."""
    assert cluster.writer is not None
    seen = []
    for _ in range(times):
        conn.read_only = True
        seen.append(where(conn, cluster))
        conn.read_only = False
        assert where(conn, cluster) == cluster.writer.name
    return seen


def backend_id(conn: sturdydb.Connection, cluster: Cluster) -> tuple[str, int]:
    """(instance id, server session id) of the physical connection behind ``conn``."""
    cur = conn.cursor()
    if cluster.engine == "pg":
        cur.execute("SELECT pg_catalog.aurora_db_instance_identifier(), pg_backend_pid()")
    else:
        cur.execute("SELECT @@aurora_server_id, CONNECTION_ID()")
    row = cur.fetchone()
    cur.fetchall()
    return str(row[0]), int(row[1])


def new_table(conn: sturdydb.Connection) -> str:
    name = f"rw_{uuid.uuid4().hex[:10]}"
    conn.cursor().execute(f"CREATE TABLE {name} (id INT NOT NULL, written_on VARCHAR(80))")
    return name


def insert(conn: sturdydb.Connection, cluster: Cluster, table: str, row_id: int) -> str:
    """Insert row ``row_id`` recording the instance the INSERT itself ran on; returns it."""
    fn = "pg_catalog.aurora_db_instance_identifier()" if cluster.engine == "pg" else "@@aurora_server_id"
    conn.cursor().execute(f"INSERT INTO {table} (id, written_on) VALUES (%s, {fn})", (row_id,))
    return where(conn, cluster)


def verify_writes(cluster: Cluster, table: str, acknowledged: list[int], writers: set[str]) -> None:
    """Every acknowledged row is on the writer once, and each was written on a writer."""
    assert cluster.writer is not None
    conn = sturdydb.connect(driver_connect(cluster), cluster.conninfo(cluster.writer), plugins="",
                            **({"use_pure": True} if cluster.engine == "mysql" else {}))
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT id, written_on, count(*) FROM {table} GROUP BY id, written_on")
        rows = cur.fetchall()
    finally:
        conn.close()
    counts: dict[int, int] = {}
    for row_id, written_on, n in rows:
        counts[int(row_id)] = counts.get(int(row_id), 0) + int(n)
        assert str(written_on) in writers, f"row {row_id} was written on {written_on}, not a writer"
    assert all(n == 1 for n in counts.values()), f"rows written more than once: {counts}"
    assert sorted(counts) == sorted(acknowledged), f"acknowledged {acknowledged}, present {sorted(counts)}"


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
