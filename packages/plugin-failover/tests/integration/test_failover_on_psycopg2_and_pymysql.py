"""Writer failover through psycopg2 and PyMySQL, on the real clusters of ``sturdydb-testing``.

The same scenario as ``test_writer_failover.py`` with the two other drivers (psycopg2 on the
PostgreSQL cluster, PyMySQL on the MariaDB one): the writer is killed, or frozen and found by
``socket_timeout``, while the application inserts rows in autocommit. The application gets the
documented error (never a bare driver error), its connection ends up on the promoted writer,
and no acknowledged write is lost and none is applied twice. Inside a transaction the error
is ``TransactionResolutionUnknownError`` and the session state (autocommit off) carries over.
Twenty threads, each with its own connection, write through one failover; a slow statement
under ``socket_timeout`` is cancelled on the server (``pg_cancel_backend``, ``KILL QUERY``)
and the connection is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from scenario_helpers import (
    PLUGINS,
    BackgroundFault,
    assert_documented_write_error,
    fail_over,
    instance_id,
    new_table,
    not_applied_rows,
    verify_writes,
    write_until_failover,
)

import sturdydb
from sturdydb_testing import Cluster


def _other_driver(cluster: Cluster) -> Callable[..., Any]:
    if cluster.engine == "pg":
        import psycopg2

        return psycopg2.connect  # type: ignore[no-any-return]
    import pymysql

    return pymysql.connect  # type: ignore[no-any-return]


def _connect(cluster: Cluster, **props: Any) -> sturdydb.Connection:
    options: dict[str, Any] = {"plugins": PLUGINS, "failover_timeout_sec": 60, "connect_timeout": 3, **props}
    conn = sturdydb.connect(_other_driver(cluster), cluster.conninfo(None), **options)
    expected = "psycopg2" if cluster.engine == "pg" else "pymysql"
    assert conn.context.driver.name == expected  # never taken for psycopg 3 or mysql-connector
    return conn


@pytest.mark.parametrize("old_writer", ["kill", "freeze"])
def test_writer_failover_through_the_other_drivers(aurora_cluster: Cluster, old_writer: str) -> None:
    conn = _connect(aurora_cluster, autocommit=True, socket_timeout=1)
    table = new_table(conn)
    fault = BackgroundFault(aurora_cluster, old_writer=old_writer)
    committed, attempted, errors = write_until_failover(conn, table, fault)
    new = fault.new_writer()
    assert len(errors) == 1, errors
    err = errors[0]
    assert_documented_write_error(err, conn)
    assert isinstance(err, conn.context.driver.operational_error)
    cause = err.__cause__
    assert isinstance(cause, sturdydb.QueryTimeoutError) or conn.context.driver.is_network_error(cause)  # type: ignore[arg-type]
    assert aurora_cluster.writer is not None and aurora_cluster.writer.name == new.name
    assert instance_id(conn, aurora_cluster) == new.name
    assert conn.host.host == aurora_cluster.writer.host
    verify_writes(aurora_cluster, table, committed, attempted, not_applied_rows(errors))
    conn.close()


def test_failover_inside_a_transaction_through_the_other_drivers(aurora_cluster: Cluster) -> None:
    conn = _connect(aurora_cluster, autocommit=False)
    table = new_table(conn)
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {table} (id) VALUES (1)")
    conn.commit()
    cur.execute(f"INSERT INTO {table} (id) VALUES (2)")
    future = fail_over(aurora_cluster)
    with pytest.raises(sturdydb.TransactionResolutionUnknownError) as caught:
        cur.execute(f"INSERT INTO {table} (id) VALUES (3)")
    assert caught.value.sqlstate == "08007"
    assert isinstance(caught.value, conn.context.driver.operational_error)
    new = future.result(60)
    assert not conn.autocommit  # session state carried over
    cur.execute(f"INSERT INTO {table} (id) VALUES (2)")
    cur.execute(f"INSERT INTO {table} (id) VALUES (3)")
    conn.commit()
    assert instance_id(conn, aurora_cluster) == new.name
    verify_writes(aurora_cluster, table, [(0, 1), (0, 2), (0, 3)], {(0, i) for i in range(1, 4)})
    conn.close()


def test_twenty_threads_write_through_a_failover_with_the_other_drivers(aurora_cluster: Cluster) -> None:
    setup = _connect(aurora_cluster, autocommit=True)
    table = new_table(setup)
    conns = [_connect(aurora_cluster, autocommit=True) for _ in range(20)]
    results: dict[int, tuple[list[tuple[int, int]], set[tuple[int, int]], list[BaseException]]] = {}
    failures: list[BaseException] = []
    fault = BackgroundFault(aurora_cluster)
    go = threading.Barrier(21)
    fired = threading.Event()

    def start_once() -> None:
        if not fired.is_set():
            fired.set()
            fault()

    def worker(w: int) -> None:
        try:
            go.wait()
            results[w] = write_until_failover(conns[w], table, start_once if w == 0 else (lambda: None),
                                              worker=w, after=10, timeout=90)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(w,), name=f"test-writer-{w}") for w in range(20)]
    for t in threads:
        t.start()
    go.wait()
    for t in threads:
        t.join(120)
    assert not failures, failures
    new = fault.new_writer()
    committed = [k for c, _, _ in results.values() for k in c]
    attempted = {k for _, a, _ in results.values() for k in a}
    for w, (_, _, errors) in results.items():
        assert errors, f"worker {w} never saw the failover"
        for e in errors:
            assert_documented_write_error(e, conns[w])
    not_applied = {k for _, _, errors in results.values() for k in not_applied_rows(errors)}
    for conn in conns:
        assert instance_id(conn, aurora_cluster) == new.name
        conn.close()
    verify_writes(aurora_cluster, table, committed, attempted, not_applied)
    setup.close()


def test_a_slow_statement_is_cancelled_and_the_connection_kept(aurora_cluster: Cluster) -> None:
    conn = _connect(aurora_cluster, autocommit=True, socket_timeout=1)
    raw = conn.target_connection
    host = conn.context.host
    cur = conn.cursor()
    # MariaDB's SLEEP() returns 1 when killed; a long scan is interrupted with an error.
    slow = "SELECT pg_sleep(5)" if aurora_cluster.engine == "pg" else "SELECT sum(seq % 7) FROM seq_1_to_10000000000"
    with pytest.raises(sturdydb.QueryTimeoutError) as caught:
        cur.execute(slow)
    err = caught.value
    assert not isinstance(err, sturdydb.FailoverError)
    assert err.cancelled
    assert conn.context.driver.is_cancel_error(err.__cause__)  # type: ignore[arg-type]
    assert isinstance(err, conn.context.driver.operational_error)
    assert conn.target_connection is raw and conn.context.host == host
    cur.execute("SELECT 6")
    assert [tuple(r) for r in cur.fetchall()] == [(6,)]
    assert conn.context.plugin_state["failover"].failovers == 0
    conn.close()
