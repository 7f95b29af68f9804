"""Writer failover scenarios on both engines: the application gets the documented error, its
connection is usable and on the new writer, acknowledged writes survive, nothing is applied twice.

The main scenarios (killed, frozen, in a transaction, twenty writers) run through each of the four
drivers on Aurora and through each engine's default driver on RDS Multi-AZ DB clusters
(``every_driver_and_kind``); the others through each driver on Aurora."""

from __future__ import annotations

import threading
import time

import pytest
from scenario_helpers import (
    BackgroundFault,
    assert_documented_write_error,
    connect,
    fail_over,
    instance_id,
    new_table,
    not_applied_rows,
    verify_writes,
    write_until_failover,
)

import sturdydb
from sturdydb_testing import Cluster
from sturdydb_testing.drivers import Driver
from sturdydb_testing.pytest_plugin import every_driver, every_driver_and_kind


def _assert_on_new_writer(conn: sturdydb.Connection, cluster: Cluster, new_writer_name: str) -> None:
    assert cluster.writer is not None and cluster.writer.name == new_writer_name
    assert instance_id(conn, cluster) == new_writer_name
    assert conn.host.host == cluster.writer.host
    assert conn.context.dialect.code == f"{cluster.kind}-{cluster.engine}"


@every_driver_and_kind
def test_writer_killed_fails_over_to_the_promoted_replica(rds_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(rds_cluster, driver=dbapi_driver, autocommit=True)
    table = new_table(conn)
    fault = BackgroundFault(rds_cluster)
    committed, attempted, errors = write_until_failover(conn, table, fault)
    new = fault.new_writer()
    assert len(errors) == 1
    err = errors[0]
    # Issue 12: an interrupted autocommit INSERT is StatementOutcomeUnknownError (08007), no
    # longer FailoverSuccessError (08S02) unless the driver proves it sent nothing.
    assert_documented_write_error(err, conn)
    assert isinstance(err, conn.context.driver.operational_error)
    assert conn.context.driver.is_network_error(err.__cause__)  # type: ignore[arg-type]
    _assert_on_new_writer(conn, rds_cluster, new.name)
    # The old writer was killed: its data is gone, so no write can remain only there; the new
    # writer's rows are the whole story (the frozen case below compares both nodes).
    verify_writes(rds_cluster, table, committed, attempted, not_applied_rows(errors))
    conn.close()


@every_driver_and_kind
def test_writer_frozen_is_detected_by_socket_timeout(rds_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(rds_cluster, driver=dbapi_driver, autocommit=True, socket_timeout=1)
    table = new_table(conn)
    old = rds_cluster.writer
    fault = BackgroundFault(rds_cluster, old_writer="freeze")
    committed, attempted, errors = write_until_failover(conn, table, fault)
    new = fault.new_writer()
    assert len(errors) == 1  # issue 12: the one error is now the documented write error
    assert_documented_write_error(errors[0], conn)
    assert isinstance(errors[0].__cause__, sturdydb.QueryTimeoutError) or conn.context.driver.is_network_error(
        errors[0].__cause__)  # type: ignore[arg-type]
    if isinstance(errors[0].__cause__, sturdydb.QueryTimeoutError):
        assert not errors[0].__cause__.cancelled  # the frozen host did not answer the cancel
    _assert_on_new_writer(conn, rds_cluster, new.name)
    # The frozen old writer still has its data: no acknowledged write may be only there.
    verify_writes(rds_cluster, table, committed, attempted, not_applied_rows(errors), old_writer=old)
    conn.close()


@every_driver
def test_writer_blackholed_fails_over_once_the_call_times_out(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=True, socket_timeout=1)
    table = new_table(conn)
    fault = BackgroundFault(aurora_cluster, keep_blackhole=True)
    committed, attempted, errors = write_until_failover(conn, table, fault)
    new = fault.new_writer()
    assert len(errors) == 1  # issue 12: the one error is now the documented write error
    assert_documented_write_error(errors[0], conn)
    _assert_on_new_writer(conn, aurora_cluster, new.name)
    verify_writes(aurora_cluster, table, committed, attempted, not_applied_rows(errors))
    conn.close()


@every_driver_and_kind
def test_failover_inside_a_transaction_reports_an_unknown_outcome(rds_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(rds_cluster, driver=dbapi_driver, autocommit=False)
    table = new_table(conn)
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {table} (id) VALUES (1)")
    conn.commit()
    cur.execute(f"INSERT INTO {table} (id) VALUES (2)")
    cur.execute(f"INSERT INTO {table} (id) VALUES (3)")
    future = fail_over(rds_cluster)
    with pytest.raises(sturdydb.TransactionResolutionUnknownError) as caught:
        cur.execute(f"INSERT INTO {table} (id) VALUES (4)")
    assert caught.value.sqlstate == "08007"
    assert isinstance(caught.value, conn.context.driver.operational_error)
    new = future.result(60)
    assert not conn.autocommit  # session state carried over (PyMySQL's is a callable switch, not False)
    # Restart the transaction: it commits on the new writer.
    cur.execute(f"INSERT INTO {table} (id) VALUES (2)")
    cur.execute(f"INSERT INTO {table} (id) VALUES (3)")
    cur.execute(f"INSERT INTO {table} (id) VALUES (4)")
    conn.commit()
    _assert_on_new_writer(conn, rds_cluster, new.name)
    verify_writes(rds_cluster, table, [(0, 1), (0, 2), (0, 3), (0, 4)], {(0, i) for i in range(1, 5)})
    conn.close()


@every_driver
def test_failover_inside_a_transaction_opened_by_a_read_reports_an_unknown_outcome(
    aurora_cluster: Cluster, dbapi_driver: Driver
) -> None:
    # SELECT ... FOR UPDATE opens the transaction and takes a row lock the application relies
    # on; "nothing was applied, run it again" would silently continue without that lock on the
    # new writer. PyMySQL reports this transaction only in the EOF packet that ends the result.
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=False)
    table = new_table(conn)
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {table} (id) VALUES (1)")
    conn.commit()
    cur.execute(f"SELECT id FROM {table} WHERE id = 1 FOR UPDATE")
    assert list(cur.fetchall()) == [(1,)]
    assert conn.context.in_transaction()
    future = fail_over(aurora_cluster)
    with pytest.raises(sturdydb.TransactionResolutionUnknownError) as caught:
        cur.execute(f"UPDATE {table} SET worker = 1 WHERE id = 1")
    assert caught.value.sqlstate == "08007"
    new = future.result(60)
    conn.rollback()
    cur.execute(f"SELECT id FROM {table} WHERE id = 1 FOR UPDATE")  # the transaction, again
    cur.fetchall()
    cur.execute(f"UPDATE {table} SET worker = 1 WHERE id = 1")
    conn.commit()
    _assert_on_new_writer(conn, aurora_cluster, new.name)
    cur.execute(f"SELECT id, worker FROM {table}")
    assert list(cur.fetchall()) == [(1, 1)]
    conn.commit()
    conn.close()


@every_driver
def test_failover_during_executemany(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    # psycopg2's executemany sends one statement per row: 20000 round trips can outlast 5 s
    # on a busy machine, which would be a timeout, not the failover this test is about.
    timeout = 60 if dbapi_driver.name == "psycopg2" else 5
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=False, socket_timeout=timeout)
    table = new_table(conn)
    cur = conn.cursor()
    rows = [(i, 0, "x" * 30) for i in range(1, 20001)]
    fault = BackgroundFault(aurora_cluster)
    timer = threading.Timer(0.05, fault)
    timer.start()
    with pytest.raises(sturdydb.FailoverError) as caught:
        for _ in range(50):  # until the fault hits one of them
            cur.executemany(f"INSERT INTO {table} (id, worker, pad) VALUES (%s, %s, %s)", rows)
            conn.rollback()
    assert isinstance(caught.value, (sturdydb.TransactionResolutionUnknownError, sturdydb.FailoverSuccessError))
    new = fault.new_writer()
    # The application re-runs its transaction once: every row exactly once.
    cur.executemany(f"INSERT INTO {table} (id, worker, pad) VALUES (%s, %s, %s)", rows)
    conn.commit()
    _assert_on_new_writer(conn, aurora_cluster, new.name)
    verify_writes(aurora_cluster, table, [(0, i) for i in range(1, 20001)], {(0, i) for i in range(1, 20001)})
    conn.close()


@every_driver
def test_failover_during_the_fetch_of_a_large_result(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    pg = aurora_cluster.engine == "pg"
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=not pg)
    n = 300000
    if pg:
        sql = f"SELECT g, repeat('x', 50) FROM generate_series(1, {n}) g"
    else:
        # The server produces rows slowly (a short sleep every 1000 rows), so the result is
        # really still streaming when the writer dies, not already buffered on this machine.
        sql = f"SELECT seq, REPEAT('x', 50), IF(seq % 1000 = 0, SLEEP(0.01), 0) FROM seq_1_to_{n}"
    cur = dbapi_driver.streaming_cursor(conn, "big")  # fetches go to the server
    cur.execute(sql)
    assert len(cur.fetchmany(100)) == 100
    future = fail_over(aurora_cluster)
    with pytest.raises(sturdydb.FailoverError) as caught:
        while cur.fetchmany(1000):
            pass
    expected = sturdydb.TransactionResolutionUnknownError if pg else sturdydb.FailoverSuccessError
    assert isinstance(caught.value, expected)
    new = future.result(60)
    if pg:
        conn.rollback()
        cur = dbapi_driver.streaming_cursor(conn, "big2")
    cur.execute(sql)
    total = 0
    while batch := cur.fetchmany(5000):
        total += len(batch)
    assert total == n
    if pg:
        conn.rollback()
    _assert_on_new_writer(conn, aurora_cluster, new.name)
    conn.close()


@every_driver_and_kind
def test_twenty_threads_each_with_a_connection_write_through_a_failover(rds_cluster: Cluster, dbapi_driver: Driver) -> None:
    setup = connect(rds_cluster, driver=dbapi_driver, autocommit=True)
    table = new_table(setup)
    conns = [connect(rds_cluster, driver=dbapi_driver, autocommit=True) for _ in range(20)]
    results: dict[int, tuple[list[tuple[int, int]], set[tuple[int, int]], list[BaseException]]] = {}
    failures: list[BaseException] = []
    fault = BackgroundFault(rds_cluster)
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
        for e in errors:  # issue 12: the documented write errors, no longer only 08S02
            assert_documented_write_error(e, conns[w])
    not_applied = {k for _, _, errors in results.values() for k in not_applied_rows(errors)}
    for conn in conns:
        _assert_on_new_writer(conn, rds_cluster, new.name)
        conn.close()
    verify_writes(rds_cluster, table, committed, attempted, not_applied)
    setup.close()


@every_driver
def test_idle_connections_to_the_old_writer_are_invalidated_by_the_tracker(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    from sturdydb_failover import tracked_connections

    active = connect(aurora_cluster, driver=dbapi_driver, autocommit=True, socket_timeout=1)
    # Without the tracker, this idle connection's next call would wait on the frozen old writer
    # until its 30 s socket timeout; aborted by the tracker, it fails over at once.
    idle = connect(aurora_cluster, driver=dbapi_driver, autocommit=True, socket_timeout=30)
    old_host = idle.host.host
    assert idle.target_connection in tracked_connections(old_host)
    future = fail_over(aurora_cluster, old_writer="freeze")
    with pytest.raises(sturdydb.FailoverSuccessError):
        active.cursor().execute("SELECT 1")
    new = future.result(60)
    started = time.monotonic()
    with pytest.raises(sturdydb.FailoverSuccessError) as caught:
        idle.cursor().execute("SELECT 1")
    assert time.monotonic() - started < 10
    assert not isinstance(caught.value.__cause__, sturdydb.QueryTimeoutError)
    _assert_on_new_writer(idle, aurora_cluster, new.name)
    active.close()
    idle.close()


def test_monitor_probes_the_other_hosts_while_its_query_hangs_on_a_frozen_writer(aurora_cluster: Cluster) -> None:
    """The topology monitor's own query on a frozen writer hangs until its socket timeout
    (here 20 s): the monitor must not wait for it. It probes the other hosts beside it and
    learns the promoted writer, verified by a probe, while that query still hangs."""
    from sturdydb_failover.monitor import TopologyMonitor

    # A cluster id of its own: a fresh monitor created with this connection's settings.
    conn = connect(aurora_cluster, autocommit=True, socket_timeout=30,
                   cluster_id=f"frozen-monitor-{time.monotonic_ns()}",
                   **{"topology-monitoring-socket_timeout": 20})
    monitor = conn.context.plugin_state["failover"].monitor
    assert isinstance(monitor, TopologyMonitor)
    assert monitor.aux_timeout == 20
    old = monitor.wait_for_writer(10)
    assert old is not None and old.host == aurora_cluster.writer.host  # type: ignore[union-attr]
    future = fail_over(aurora_cluster, old_writer="freeze")
    # The monitor queries the frozen writer now (as when a connection asks for a refresh).
    frozen_at = time.monotonic()
    monitor.request_refresh()
    new = future.result(60)
    learned = monitor.wait_for_writer(60, since=frozen_at)
    learned_at = time.monotonic()
    assert learned is not None and learned.host == new.host
    # Learned before the stuck query's own timeout could have expired, by a probe of the
    # doubt round that ran beside it (in panic mode, after that timeout, it would not count).
    assert learned_at - frozen_at < monitor.aux_timeout
    assert monitor.doubt_wins == 1
    conn.close()


def test_a_writer_reported_unavailable_makes_the_monitor_probe_the_other_hosts(aurora_cluster: Cluster) -> None:
    """A plugin's report that the writer is unavailable (``sturdydb_host_state_changed``, as
    host monitoring sends it) starts the probes at once, while the monitor itself would not
    query the frozen writer for a minute (its poll interval here)."""
    from sturdydb_failover.monitor import TopologyMonitor

    conn = connect(aurora_cluster, autocommit=True, socket_timeout=30,
                   cluster_id=f"reported-writer-{time.monotonic_ns()}", topology_refresh_ms=60000,
                   cluster_topology_high_refresh_rate_ms=60000, **{"topology-monitoring-socket_timeout": 20})
    monitor = conn.context.plugin_state["failover"].monitor
    assert isinstance(monitor, TopologyMonitor)
    old = monitor.wait_for_writer(10)
    assert old is not None
    # The monitor reads the topology once right after it verified the writer (milliseconds);
    # after that it would not query the writer again for a minute.
    time.sleep(1.0)
    future = fail_over(aurora_cluster, old_writer="freeze")
    reported_at = time.monotonic()
    conn.context.topology.report_host_state(old, False, "test: the writer does not answer")
    new = future.result(60)
    # Watched without asking (wait_for_writer(since=...) would request a poll of the writer).
    while (learned := monitor.writer) is None or learned.host != new.host:
        assert time.monotonic() - reported_at < 60, "the monitor did not learn the new writer"
        time.sleep(0.01)
    assert time.monotonic() - reported_at < monitor.aux_timeout  # long before any poll of its own
    assert (monitor.doubts, monitor.doubt_wins) == (1, 1)
    conn.close()
