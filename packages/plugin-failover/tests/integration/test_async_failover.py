"""Failover of async connections (``sturdydb.connect_async``) on the real clusters, both engines.

The sync scenarios, async: a killed writer, a frozen or blackholed writer (detected by
host_monitoring or by socket_timeout),
a failover inside a transaction, fifty tasks on their own connections, and a cancellation
that must not start a failover. Every acknowledged write is on the new writer exactly once;
a heartbeat task proves that the event loop kept running while connections failed over.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
from scenario_helpers import PLUGINS, BackgroundFault, fail_over, not_applied_rows, verify_writes

import sturdydb
from sturdydb_testing import Cluster, Instance

pytestmark = pytest.mark.integration

#: host_monitoring's fast rule, as in sturdydb-efm's scenarios (probe after 1 s, every 500 ms).
FAST_EFM = {"failure_detection_time_ms": 1000, "failure_detection_interval_ms": 500, "failure_detection_count": 2}
WRITE_ERRORS = (sturdydb.FailoverSuccessError, sturdydb.StatementOutcomeUnknownError)


def _async_target(cluster: Cluster) -> Callable[..., Any]:
    if cluster.engine == "pg":
        import psycopg

        return psycopg.AsyncConnection.connect
    import mysql.connector.aio

    return mysql.connector.aio.connect


async def _connect(cluster: Cluster, host: Instance | str | None = None, **props: Any) -> sturdydb.AsyncConnection:
    options: dict[str, Any] = {"plugins": PLUGINS, "failover_timeout_sec": 60, "connect_timeout": 3}
    if cluster.engine == "mysql":
        options["ssl_disabled"] = True
    options.update(props)
    return await sturdydb.connect_async(_async_target(cluster), cluster.conninfo(host), **options)


async def _instance_id(conn: sturdydb.AsyncConnection, cluster: Cluster) -> str:
    cur = conn.cursor()
    await cur.execute("SELECT pg_catalog.aurora_db_instance_identifier()" if cluster.engine == "pg"
                      else "SELECT @@aurora_server_id")
    rows = await cur.fetchall()
    await cur.close()
    return str(rows[0][0])


async def _new_table(conn: sturdydb.AsyncConnection) -> str:
    import uuid

    name = f"afo_{uuid.uuid4().hex[:10]}"
    cur = conn.cursor()
    await cur.execute(f"CREATE TABLE {name} (id INT NOT NULL, worker INT NOT NULL DEFAULT 0, pad VARCHAR(40))")
    if not conn.autocommit:
        await conn.commit()
    return name


class Heartbeat:
    """A task that ticks every 10 ms; its largest gap shows whether the loop was ever blocked."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Heartbeat:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            self.ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    def ticks_between(self, start: float, end: float) -> int:
        return sum(1 for t in self.ticks if start <= t <= end)

    def max_gap(self) -> float:
        return max((b - a for a, b in itertools.pairwise(self.ticks)), default=0.0)


async def _write_until_failover(
    conn: sturdydb.AsyncConnection, table: str, start_fault: Callable[[], Any], *, worker: int = 0,
    after: int = 20, timeout: float = 60.0,
) -> tuple[list[tuple[int, int]], set[tuple[int, int]], list[BaseException], list[tuple[float, float]]]:
    """The async twin of ``scenario_helpers.write_until_failover`` (also returns each error's span)."""
    committed: list[tuple[int, int]] = []
    attempted: set[tuple[int, int]] = set()
    errors: list[BaseException] = []
    spans: list[tuple[float, float]] = []
    cur = conn.cursor()
    deadline = time.monotonic() + timeout
    i = 0
    after_error = 0
    while time.monotonic() < deadline:
        i += 1
        if i == 5 and start_fault is not None:
            start_fault()
        attempted.add((worker, i))
        started = time.monotonic()
        try:
            await cur.execute(f"INSERT INTO {table} (id, worker) VALUES (%s, %s)", (i, worker))
        except WRITE_ERRORS as exc:
            exc.row = (worker, i)  # type: ignore[union-attr]
            errors.append(exc)
            spans.append((started, time.monotonic()))
            continue
        committed.append((worker, i))
        if errors:
            after_error += 1
            if after_error >= after:
                return committed, attempted, errors, spans
        await asyncio.sleep(0)
    raise AssertionError(f"no failover within {timeout} s; errors: {errors}")


def _assert_documented_write_error(err: BaseException, conn: sturdydb.AsyncConnection) -> None:
    driver = conn.context.driver
    assert isinstance(err, WRITE_ERRORS), repr(err)
    assert isinstance(err, driver.operational_error)
    if isinstance(err, sturdydb.FailoverSuccessError):
        assert driver.is_unsent_error(err.__cause__)  # type: ignore[arg-type]
    else:
        assert err.sqlstate == "08007"  # type: ignore[attr-defined]


def _on_new_writer(cluster: Cluster, conn: sturdydb.AsyncConnection, new: Instance, seen_id: str) -> None:
    assert cluster.writer is not None and cluster.writer.name == new.name
    assert seen_id == new.name
    assert conn.host.host == cluster.writer.host


@pytest.mark.parametrize("fate", ["kill", "freeze", "blackhole", "freeze-socket_timeout"])
def test_async_writer_fault_fails_over_while_the_loop_keeps_ticking(aurora_cluster: Cluster, fate: str) -> None:
    # A frozen or blackholed writer keeps its TCP connections open: host_monitoring's
    # per-host monitor thread detects it and aborts the async connection's socket, or the
    # socket_timeout deadline does (its cancel is not answered, so it aborts).
    props: dict[str, Any] = {}
    if fate in ("freeze", "blackhole"):
        props = {"plugins": PLUGINS + ",host_monitoring", **FAST_EFM}
    elif fate == "freeze-socket_timeout":
        props = {"socket_timeout": 1}
        fate = "freeze"

    async def scenario() -> None:
        conn = await _connect(aurora_cluster, autocommit=True, **props)
        table = await _new_table(conn)
        heartbeat = Heartbeat().start()
        if fate == "blackhole":
            fault = BackgroundFault(aurora_cluster, keep_blackhole=True)  # killed behind the blackhole
        else:
            fault = BackgroundFault(aurora_cluster, old_writer=fate)
        committed, attempted, errors, spans = await _write_until_failover(conn, table, fault)
        await heartbeat.stop()
        new = await asyncio.get_running_loop().run_in_executor(None, fault.new_writer)
        assert len(errors) == 1
        _assert_documented_write_error(errors[0], conn)
        cause = errors[0].__cause__
        if isinstance(cause, sturdydb.QueryTimeoutError):
            assert not cause.cancelled  # the frozen host did not answer the cancel
        else:
            assert conn.context.driver.is_network_error(cause)  # type: ignore[arg-type]
        # The failing call took the failover's time; the loop ticked all along.
        start, end = spans[0]
        assert heartbeat.ticks_between(start, end) >= 1
        assert heartbeat.max_gap() < 1.0, f"the event loop was blocked for {heartbeat.max_gap():.3f} s"
        _on_new_writer(aurora_cluster, conn, new, await _instance_id(conn, aurora_cluster))
        await conn.close()
        verify_writes(aurora_cluster, table, committed, attempted, not_applied_rows(errors))

    asyncio.run(scenario())


def test_async_failover_inside_a_transaction_reports_an_unknown_outcome(aurora_cluster: Cluster) -> None:
    async def scenario() -> None:
        conn = await _connect(aurora_cluster, autocommit=False)
        table = await _new_table(conn)
        cur = conn.cursor()
        await cur.execute(f"INSERT INTO {table} (id) VALUES (1)")
        await conn.commit()
        await cur.execute(f"INSERT INTO {table} (id) VALUES (2)")
        future = await asyncio.get_running_loop().run_in_executor(None, fail_over, aurora_cluster)
        with pytest.raises(sturdydb.TransactionResolutionUnknownError) as caught:
            await cur.execute(f"INSERT INTO {table} (id) VALUES (3)")
        assert caught.value.sqlstate == "08007"
        assert isinstance(caught.value, conn.context.driver.operational_error)
        new = await asyncio.get_running_loop().run_in_executor(None, future.result, 60)
        assert conn.autocommit is False  # session state carried over
        for i in (2, 3):
            await cur.execute(f"INSERT INTO {table} (id) VALUES ({i})")
        await conn.commit()
        _on_new_writer(aurora_cluster, conn, new, await _instance_id(conn, aurora_cluster))
        await conn.close()
        verify_writes(aurora_cluster, table, [(0, 1), (0, 2), (0, 3)], {(0, i) for i in range(1, 4)})

    asyncio.run(scenario())


def test_fifty_async_tasks_on_their_own_connections_lose_and_duplicate_nothing(aurora_cluster: Cluster) -> None:
    tasks_n = 50

    async def scenario() -> None:
        first = await _connect(aurora_cluster, autocommit=True)
        table = await _new_table(first)
        await first.close()
        conns = await asyncio.gather(*(_connect(aurora_cluster, autocommit=True) for _ in range(tasks_n)))
        fault = BackgroundFault(aurora_cluster)
        started = asyncio.Event()

        def start_fault() -> None:
            if not started.is_set():
                started.set()
                fault()

        heartbeat = Heartbeat().start()
        results = await asyncio.gather(*(
            _write_until_failover(conn, table, start_fault, worker=w, after=10, timeout=90)
            for w, conn in enumerate(conns)
        ))
        await heartbeat.stop()
        new = await asyncio.get_running_loop().run_in_executor(None, fault.new_writer)
        committed: list[tuple[int, int]] = []
        attempted: set[tuple[int, int]] = set()
        errors: list[BaseException] = []
        for (c, a, e, _), conn in zip(results, conns, strict=True):
            committed += c
            attempted |= a
            errors += e
            assert len(e) == 1
            _assert_documented_write_error(e[0], conn)
        assert heartbeat.max_gap() < 1.0, f"the event loop was blocked for {heartbeat.max_gap():.3f} s"
        ids = await asyncio.gather(*(_instance_id(conn, aurora_cluster) for conn in conns))
        assert set(ids) == {new.name}
        await asyncio.gather(*(conn.close() for conn in conns))
        verify_writes(aurora_cluster, table, committed, attempted, not_applied_rows(errors))

    asyncio.run(scenario())


def test_a_cancelled_call_closes_the_connection_and_starts_no_failover(aurora_cluster: Cluster) -> None:
    sleep = "SELECT pg_sleep(5)" if aurora_cluster.engine == "pg" else "SELECT SLEEP(5)"

    async def scenario() -> None:
        conn = await _connect(aurora_cluster, autocommit=True)
        writer = conn.host
        cur = conn.cursor()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(cur.execute(sleep), 0.3)
        assert conn.closed
        with pytest.raises(sturdydb.InterfaceError, match="cancelled"):
            await cur.execute("SELECT 1")
        state = conn.context.plugin_state["failover"]
        assert state.failovers == 0
        assert conn.host == writer
        # The cluster is untouched: a new connection reaches the same writer.
        again = await _connect(aurora_cluster, autocommit=True)
        assert await _instance_id(again, aurora_cluster) == aurora_cluster.writer.name  # type: ignore[union-attr]
        await again.close()

    asyncio.run(scenario())


def test_idle_async_connections_to_the_old_writer_are_invalidated_by_the_tracker(aurora_cluster: Cluster) -> None:
    from sturdydb_failover import tracked_connections

    async def scenario() -> None:
        active = await _connect(aurora_cluster, autocommit=True, plugins=PLUGINS + ",host_monitoring", **FAST_EFM)
        # No host_monitoring and no socket_timeout: only the tracker can unblock this one's
        # next call on the frozen old writer.
        idle = await _connect(aurora_cluster, autocommit=True)
        old_host = idle.host.host
        assert idle.target_connection in tracked_connections(old_host)
        future = await asyncio.get_running_loop().run_in_executor(
            None, lambda: fail_over(aurora_cluster, old_writer="freeze"))
        with pytest.raises(sturdydb.FailoverSuccessError):
            await active.cursor().execute("SELECT 1")
        new = await asyncio.get_running_loop().run_in_executor(None, future.result, 60)
        with pytest.raises(sturdydb.FailoverSuccessError):
            await asyncio.wait_for(idle.cursor().execute("SELECT 1"), 20)
        _on_new_writer(aurora_cluster, idle, new, await _instance_id(idle, aurora_cluster))
        await active.close()
        await idle.close()

    asyncio.run(scenario())
