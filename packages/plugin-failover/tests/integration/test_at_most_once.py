"""Issue 12 on both engines: after an interrupted call, sturdydb says "not applied" only when it
knows; a slow statement on a healthy host is cancelled, not failed over; reads can be re-run
transparently; old cursors and multi-host connects behave. Each test checks the database."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from scenario_helpers import (
    PLUGINS,
    BackgroundFault,
    assert_documented_write_error,
    connect,
    fail_over,
    instance_id,
    new_table,
)

import sturdydb
from sturdydb import HostAvailability
from sturdydb_testing import Cluster
from sturdydb_testing.drivers import DEFAULT_DRIVERS, DRIVERS, Driver
from sturdydb_testing.pytest_plugin import every_driver


def _count(cluster: Cluster, table: str, where: str = "") -> int:
    """Rows of ``table`` on the current writer, read on a fresh plain connection."""
    default = DEFAULT_DRIVERS[cluster.engine]
    conn = sturdydb.connect(default.connect, cluster.conninfo(cluster.writer), plugins="", **default.options)
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT count(*) FROM {table} {where}")
        return int(cur.fetchall()[0][0])
    finally:
        conn.close()


def _sleep(cluster: Cluster, seconds: float) -> str:
    """A FROM item that takes ``seconds`` on the server."""
    if cluster.engine == "pg":
        return f"pg_sleep({seconds})"
    return f"(SELECT SLEEP({seconds})) AS s"


def _reset_writer_after(cluster: Cluster, delay: float) -> threading.Timer:
    """Cut every client connection of the writer with a TCP RST after ``delay`` (the server
    itself keeps running: a reply lost on the way, the issue's other case)."""
    writer = cluster.writer
    assert writer is not None
    timer = threading.Timer(delay, cluster.reset_connections, args=(writer,))
    timer.daemon = True
    timer.start()
    return timer


def _monitor(conn: sturdydb.Connection) -> Any:
    monitor = conn.context.plugin_state["failover"].monitor
    assert monitor is not None
    assert monitor.wait_for_writer(20) is not None
    return monitor


# -- 1. at most once ------------------------------------------------------------------------

@every_driver
def test_an_autocommit_write_whose_reply_was_lost_reports_an_unknown_outcome(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=True)
    table = new_table(conn)
    _monitor(conn)
    cur = conn.cursor()
    timer = _reset_writer_after(aurora_cluster, 0.5)
    with pytest.raises(sturdydb.StatementOutcomeUnknownError) as caught:
        cur.execute(f"INSERT INTO {table} (id) SELECT 1 FROM {_sleep(aurora_cluster, 1.5)}")
    timer.join()
    err = caught.value
    assert not isinstance(err, sturdydb.FailoverSuccessError)
    assert_documented_write_error(err, conn)
    assert "may or may not have been applied" in str(err)
    # The connection works (failed over to the writer) and the application decides.
    cur.execute("SELECT 5")
    assert [tuple(r) for r in cur.fetchall()] == [(5,)]
    time.sleep(2.0)  # let the server finish the statement it kept running
    applied = _count(aurora_cluster, table)
    if aurora_cluster.engine == "pg":
        # PostgreSQL finishes and commits it although the client is gone: exactly why
        # "re-run the statement" would have applied it twice.
        assert applied == 1
    else:
        assert applied in (0, 1)
    conn.close()


@every_driver
def test_an_interrupted_read_is_reported_safe_to_rerun(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=True)
    table = new_table(conn)
    _monitor(conn)
    cur = conn.cursor()
    timer = _reset_writer_after(aurora_cluster, 0.5)
    with pytest.raises(sturdydb.FailoverSuccessError) as caught:
        cur.execute(f"SELECT count(*) FROM {table}, {_sleep(aurora_cluster, 1.5)}")
    timer.join()
    assert caught.value.sqlstate == "08S02"
    assert not caught.value.retry_read  # failover_retry_reads is off by default
    assert "safe to run it again" in str(caught.value)
    cur.execute(f"SELECT count(*) FROM {table}")
    assert [tuple(r) for r in cur.fetchall()] == [(0,)]
    assert _count(aurora_cluster, table) == 0
    conn.close()


@every_driver
def test_a_statement_in_a_read_only_session_is_reported_safe_to_rerun(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    # Not autocommit: psycopg applies read_only to the transactions it opens.
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=False)
    table = new_table(conn)
    _monitor(conn)
    conn.read_only = True
    cur = conn.cursor()
    # DO is no read by the statement rule; the read-only session is what proves nothing changed.
    statement = ("DO $$ BEGIN PERFORM pg_sleep(1.5); END $$" if aurora_cluster.engine == "pg"
                 else "DO SLEEP(1.5)")
    timer = _reset_writer_after(aurora_cluster, 0.5)
    with pytest.raises(sturdydb.FailoverSuccessError):
        cur.execute(statement)
    timer.join()
    assert conn.read_only
    with pytest.raises(Exception) as refused:  # the session is still read only after failover
        cur.execute(f"INSERT INTO {table} (id) VALUES (1)")
    assert not isinstance(refused.value, sturdydb.FailoverError)
    conn.rollback()
    assert _count(aurora_cluster, table) == 0
    conn.close()


@every_driver
def test_a_write_that_provably_never_left_is_reported_safe_to_rerun(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=True)
    table = new_table(conn)
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {table} (id) VALUES (1)")
    conn.context.connection.close()  # the driver knows the connection is gone: it sends nothing
    with pytest.raises(sturdydb.FailoverSuccessError) as caught:
        cur.execute(f"INSERT INTO {table} (id) VALUES (2)")
    assert_documented_write_error(caught.value, conn)
    assert _count(aurora_cluster, table, "WHERE id = 2") == 0
    cur.execute(f"INSERT INTO {table} (id) VALUES (2)")  # the re-run applies it exactly once
    assert _count(aurora_cluster, table) == 2
    conn.close()


# -- 2. a timeout is not a failover ---------------------------------------------------------

@every_driver
def test_a_slow_autocommit_insert_is_cancelled_and_the_connection_kept(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    """The issue's case: socket_timeout=1 and a 1.5 s INSERT ... SELECT in autocommit."""
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=True, socket_timeout=1)
    table = new_table(conn)
    monitor = _monitor(conn)
    writer = monitor.writer
    raw = conn.target_connection
    host = conn.context.host
    cur = conn.cursor()
    with pytest.raises(sturdydb.QueryTimeoutError) as caught:
        cur.execute(f"INSERT INTO {table} (id) SELECT 1 FROM {_sleep(aurora_cluster, 1.5)}")
    err = caught.value
    assert not isinstance(err, sturdydb.FailoverError)
    assert err.cancelled
    assert conn.context.driver.is_cancel_error(err.__cause__)  # type: ignore[arg-type]
    assert isinstance(err, conn.context.driver.operational_error)
    # The same connection is still usable, on the same host; the topology is untouched.
    assert conn.target_connection is raw and conn.context.host == host
    cur.execute("SELECT 6")
    assert [tuple(r) for r in cur.fetchall()] == [(6,)]
    assert conn.context.plugin_state["failover"].failovers == 0
    # The timeout made the monitor doubt the writer (socket_timeout reports the host as
    # suspected before it cancels): it may have probed the other hosts, but the writer
    # answered, so nothing moved.
    assert monitor.last_doubt_reason == "a call exceeded socket_timeout=1s"
    assert monitor.doubt_wins == 0
    assert monitor.writer is not None and writer is not None and monitor.writer.url == writer.url
    assert all(h.availability is HostAvailability.AVAILABLE for h in conn.context.topology.hosts)
    time.sleep(1.0)  # past the statement's own end: a cancelled statement left nothing behind
    assert _count(aurora_cluster, table) == 0
    cur.execute(f"INSERT INTO {table} (id) VALUES (2)")
    assert _count(aurora_cluster, table) == 1
    conn.close()


@every_driver
def test_a_host_that_does_not_answer_the_cancel_is_treated_as_failed(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    conn = sturdydb.connect(dbapi_driver.connect, aurora_cluster.conninfo(writer),
                            plugins="", socket_timeout=1, auxiliary_query_timeout_sec=1, connect_timeout=2,
                            **dbapi_driver.options)
    raw = conn.target_connection
    driver = conn.context.driver
    cur = conn.cursor()
    aurora_cluster.freeze(writer)
    try:
        started = time.monotonic()
        with pytest.raises(sturdydb.QueryTimeoutError) as caught:
            cur.execute("SELECT 1")
        assert time.monotonic() - started < 30  # socket_timeout + the cancel's bound, not forever
        assert not caught.value.cancelled
        assert "did not answer a cancel request" in str(caught.value)
        assert driver.is_network_error(caught.value)  # failover takes it from here
        with pytest.raises(driver.module.Error):  # aborted: this connection is not used again
            raw_cur = raw.cursor()
            raw_cur.execute("SELECT 1")
    finally:
        aurora_cluster.thaw(writer)
    conn.close()
    # The frozen host answered nothing and changed nothing: it still answers after the thaw.
    assert _count(aurora_cluster, "(SELECT 1 AS one) AS t") == 1


# -- 3. transparent retry of reads ----------------------------------------------------------

@every_driver
def test_a_read_interrupted_by_a_failover_is_rerun_with_failover_retry_reads(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=True, failover_retry_reads=True)
    table = new_table(conn)
    conn.cursor().execute(f"INSERT INTO {table} (id) VALUES (1), (2), (3)")
    _monitor(conn)
    cur = conn.cursor()
    timer = _reset_writer_after(aurora_cluster, 0.5)
    cur.execute(f"SELECT id FROM {table}, {_sleep(aurora_cluster, 1.5)} ORDER BY id")
    timer.join()
    assert [tuple(r) for r in cur.fetchall()] == [(1,), (2,), (3,)]
    assert conn.context.plugin_state["failover"].failovers == 1
    # Writes are never re-run: the same interruption of an INSERT is an unknown outcome.
    timer = _reset_writer_after(aurora_cluster, 0.5)
    with pytest.raises(sturdydb.StatementOutcomeUnknownError):
        cur.execute(f"INSERT INTO {table} (id) SELECT 4 FROM {_sleep(aurora_cluster, 1.5)}")
    timer.join()
    time.sleep(2.0)
    assert _count(aurora_cluster, table, "WHERE id = 4") <= 1
    conn.close()


@every_driver
def test_a_read_heavy_workload_sees_no_error_through_a_real_failover(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    setup = connect(aurora_cluster, driver=dbapi_driver, autocommit=True)
    table = new_table(setup)
    expected = [(i, f"row {i}") for i in range(1, 51)]
    setup.cursor().executemany(f"INSERT INTO {table} (id, pad) VALUES (%s, %s)", expected)
    setup.close()
    threads = 6
    conns = [connect(aurora_cluster, driver=dbapi_driver, autocommit=True, failover_retry_reads=True) for _ in range(threads)]
    fault = BackgroundFault(aurora_cluster)
    errors: list[BaseException] = []
    wrong: list[Any] = []
    reads = [0] * threads
    stop = threading.Event()

    def reader(w: int) -> None:
        conn = conns[w]
        # mysql-connector: a buffered cursor, so a failover cannot interrupt a fetch.
        cur = conn.cursor(**dbapi_driver.buffered_cursor_options())
        while not stop.is_set():
            try:
                cur.execute(f"SELECT id, pad FROM {table} WHERE id <= %s ORDER BY id", (50,))
                rows = [tuple(r) for r in cur.fetchall()]
            except BaseException as exc:
                errors.append(exc)
                return
            if rows != expected:
                wrong.append(rows[:3])
            reads[w] += 1

    workers = [threading.Thread(target=reader, args=(w,), name=f"reader-{w}") for w in range(threads)]
    for t in workers:
        t.start()
    time.sleep(0.5)
    fault()
    new = fault.new_writer()
    deadline = time.monotonic() + 60
    # Keep reading until every connection has been through the failover and read again.
    while time.monotonic() < deadline and not errors:
        if all(c.context.plugin_state["failover"].failovers >= 1 for c in conns):
            break
        time.sleep(0.1)
    before = list(reads)
    time.sleep(1.0)
    stop.set()
    for t in workers:
        t.join(60)
    assert not errors, errors
    assert not wrong, wrong
    assert all(after > b for after, b in zip(reads, before, strict=True)), (before, reads)
    for conn in conns:
        assert conn.context.plugin_state["failover"].failovers >= 1
        assert instance_id(conn, aurora_cluster) == new.name
        conn.close()


# -- 5. cursors from before a failover; multi-host strict_writer connects -------------------

@every_driver
def test_a_cursor_from_before_a_failover_works_or_raises_the_documented_error(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=True)
    table = new_table(conn)
    conn.cursor().execute(f"INSERT INTO {table} (id) VALUES (1), (2)")
    _monitor(conn)
    streams = dbapi_driver.streams_results
    # A result held in memory (the default cursors of psycopg, psycopg2 and PyMySQL,
    # mysql-connector's buffered ones), not fetched yet.
    pending = conn.cursor(**dbapi_driver.buffered_cursor_options())
    pending.execute(f"SELECT id FROM {table} ORDER BY id")
    if streams:
        # mysql-connector's default cursor streams from the server: its result is on the
        # connection that will fail.
        streamed = conn.cursor()
        streamed.execute(f"SELECT id FROM {table} ORDER BY id")
        assert [tuple(r) for r in streamed.fetchall()] == [(1,), (2,)]
    unused = conn.cursor()
    aurora_cluster.reset_connections(aurora_cluster.writer)  # type: ignore[arg-type]
    with pytest.raises(sturdydb.FailoverSuccessError):
        conn.cursor().execute("SELECT 1")
    assert conn.context.plugin_state["failover"].failovers == 1
    if conn.context.driver.results_outlive_connection:
        assert [tuple(r) for r in pending.fetchall()] == [(1,), (2,)]  # still valid
    else:
        # psycopg2 refuses any use of a cursor of a closed connection: the documented error.
        with pytest.raises(sturdydb.FailoverSuccessError, match="execute the query again"):
            pending.fetchall()
    if streams:
        # The documented error, not the driver's "No result set" or an empty list.
        with pytest.raises(sturdydb.FailoverSuccessError, match="execute the query again"):
            streamed.fetchall()
        streamed.execute(f"SELECT id FROM {table} ORDER BY id")
        assert [tuple(r) for r in streamed.fetchall()] == [(1,), (2,)]
    unused.execute(f"SELECT count(*) FROM {table}")
    assert [tuple(r) for r in unused.fetchall()] == [(2,)]
    pending.execute(f"SELECT id FROM {table} ORDER BY id")
    assert [tuple(r) for r in pending.fetchall()] == [(1,), (2,)]
    conn.close()


@pytest.mark.parametrize("dbapi_driver", [d for d in DRIVERS if d.engine == "pg"], ids=str)
def test_a_server_side_cursor_from_before_a_failover_raises_the_documented_error(
    pg_cluster: Cluster, dbapi_driver: Driver
) -> None:
    conn = connect(pg_cluster, driver=dbapi_driver, autocommit=True)
    _monitor(conn)
    named = conn.cursor("held", withhold=True)
    named.execute("SELECT g FROM generate_series(1, 10) g")
    assert tuple(named.fetchone()) == (1,)
    pg_cluster.reset_connections(pg_cluster.writer)  # type: ignore[arg-type]
    with pytest.raises(sturdydb.FailoverSuccessError):
        conn.cursor().execute("SELECT 1")
    with pytest.raises(sturdydb.FailoverSuccessError, match="execute the query again"):
        named.fetchall()
    conn.close()


@every_driver
def test_a_plain_multi_host_connect_in_strict_writer_mode_writes_only_to_the_writer(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    reader = aurora_cluster.readers[0]
    writer = aurora_cluster.writer
    assert writer is not None
    setup = connect(aurora_cluster, driver=dbapi_driver, autocommit=True)
    table = new_table(setup)
    setup.close()
    kwargs = aurora_cluster.connect_kwargs(reader)
    kwargs["host"] = f"{reader.host},{writer.host}"  # the replica answers first
    kwargs["port"] = f"{reader.port},{writer.port}"
    kwargs.update(dbapi_driver.options)
    conn = sturdydb.connect(dbapi_driver.connect, plugins=PLUGINS, failover_mode="strict_writer",
                            autocommit=True, connect_timeout=3, failover_timeout_sec=30, **kwargs)
    assert instance_id(conn, aurora_cluster) == writer.name
    assert conn.context.host.host == writer.host
    conn.cursor().execute(f"INSERT INTO {table} (id) VALUES (7)")
    assert _count(aurora_cluster, table, "WHERE id = 7") == 1
    conn.close()


@every_driver
def test_an_interrupted_autocommit_write_during_a_real_failover_is_never_reported_safe(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=True)
    table = new_table(conn)
    cur = conn.cursor()
    future = fail_over(aurora_cluster)
    with pytest.raises(sturdydb.FailoverError) as caught:
        cur.execute(f"INSERT INTO {table} (id) VALUES (1)")
    future.result(60)
    assert_documented_write_error(caught.value, conn)
    if isinstance(caught.value, sturdydb.FailoverSuccessError):
        assert _count(aurora_cluster, table) == 0
    else:
        assert _count(aurora_cluster, table) in (0, 1)
    conn.close()
