"""psycopg's copy(), stream() and transaction() blocks fail over like execute() does.

The writer's connections are reset (TCP RST) in the middle of each block: the application
must see a documented failover error (never a bare psycopg ``OperationalError``, and never one
from the driver's block exit talking to the dead connection), and the connection must work
afterwards on a new session.
"""

from __future__ import annotations

import pytest
from scenario_helpers import connect, new_table

import sturdydb
from sturdydb_testing import Cluster


def _session(conn: sturdydb.Connection) -> int:
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()")
    return int(cur.fetchone()[0])


def test_a_stream_interrupted_by_a_connection_loss_fails_over(pg_cluster: Cluster) -> None:
    conn = connect(pg_cluster, autocommit=True, socket_timeout=10)
    before = _session(conn)
    rows = conn.cursor().stream("SELECT g, pg_sleep(0.01) FROM generate_series(1, 100000) g")
    assert next(rows)[0] == 1
    pg_cluster.reset_connections(pg_cluster.writer)
    with pytest.raises(sturdydb.FailoverError) as info:
        for _ in rows:
            pass
    assert info.value.sqlstate in ("08S02", "08007")
    assert _session(conn) != before  # a new session, and it works
    conn.close()


def test_a_copy_interrupted_by_a_connection_loss_fails_over(pg_cluster: Cluster) -> None:
    conn = connect(pg_cluster, autocommit=True, socket_timeout=10)
    table = new_table(conn)
    before = _session(conn)
    cur = conn.cursor()
    with pytest.raises(sturdydb.FailoverError), cur.copy(f"COPY {table} (id) FROM STDIN") as copy:
        copy.write_row((1,))
        pg_cluster.reset_connections(pg_cluster.writer)
        for i in range(2, 200000):  # until the write path notices the reset
            copy.write_row((i,))
    assert _session(conn) != before
    cur = conn.cursor()
    cur.execute(f"SELECT count(*) FROM {table}")
    assert cur.fetchone()[0] == 0  # the COPY never completed, so none of it was applied
    conn.close()


def test_a_transaction_block_interrupted_by_a_connection_loss_reports_it(pg_cluster: Cluster) -> None:
    conn = connect(pg_cluster, autocommit=True, socket_timeout=10)
    table = new_table(conn)
    cur = conn.cursor()
    with pytest.raises(sturdydb.TransactionResolutionUnknownError), conn.transaction():
        cur.execute(f"INSERT INTO {table} (id) VALUES (1)")
        pg_cluster.reset_connections(pg_cluster.writer)
        cur.execute(f"INSERT INTO {table} (id) VALUES (2)")
    cur = conn.cursor()
    cur.execute(f"SELECT count(*) FROM {table}")
    assert cur.fetchone()[0] == 0  # COMMIT was never sent
    with conn.transaction():
        cur.execute(f"INSERT INTO {table} (id) VALUES (3)")
    cur.execute(f"SELECT id FROM {table}")
    assert cur.fetchall() == [(3,)]
    conn.close()
