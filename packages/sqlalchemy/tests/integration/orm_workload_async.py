"""The ORM workload of :mod:`orm_workload`, async: AsyncSession units of work on several tasks
of one event loop, through ``create_async_engine`` and the ``sturdydb_async`` dialects.

Same rules as the sync workload: each unit inserts two rows in one transaction, each row
records which instance executed it, and a task that gets an error moves on to its next unit
(it never re-runs one whose outcome is unknown). The fault and the verification are the sync
helpers' (:func:`orm_workload.start_failover` runs in a thread; :func:`orm_workload.verify`
reads the new writer through a plain sync engine).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import time
from typing import Any

import sqlalchemy as sa
from orm_workload import PLUGINS, WorkerLog, node_expression
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from sturdydb_testing import Cluster, Instance

#: host_monitoring's fast rule (as in sturdydb-failover's async scenarios): async connections
#: have no socket_timeout, so a frozen writer is detected by host_monitoring.
FAST_EFM = {"failure_detection_time_ms": 1000, "failure_detection_interval_ms": 500, "failure_detection_count": 2}


def async_engine_for(cluster: Cluster, **engine_kw: Any) -> AsyncEngine:
    """An async engine on the cluster endpoint through the ``sturdydb_async`` dialect."""
    kw = cluster.connect_kwargs()
    scheme = "postgresql+sturdydb_async" if cluster.engine == "pg" else "mysql+sturdydb_async"
    url = sa.URL.create(scheme, username=kw["user"], password=kw["password"], host=kw["host"],
                        port=kw["port"], database=cluster.dbname)
    connect_args: dict[str, Any] = {"plugins": PLUGINS, "failover_timeout_sec": 60, "connect_timeout": 3, **FAST_EFM}
    if cluster.engine == "mysql":
        connect_args["ssl_disabled"] = True  # mysql.connector.aio and a server without TLS
    return create_async_engine(url, connect_args=connect_args, **engine_kw)


async def warm_up(engine: AsyncEngine, n: int, timeout: float = 30.0) -> None:
    """Fill the pool with ``n`` working connections (the cluster was just healed)."""
    deadline = time.monotonic() + timeout
    conns = []
    try:
        while len(conns) < n:
            try:
                conn = await engine.connect()
                await conn.execute(sa.text("SELECT 1"))
                await conn.rollback()
                conns.append(conn)
            except sa.exc.DBAPIError:
                assert time.monotonic() < deadline, "the cluster did not accept connections"
                await asyncio.sleep(0.1)
    finally:
        for conn in conns:
            await conn.close()


async def run_workload(
    engine: AsyncEngine, model: type[Any], cluster: Cluster, *, tasks: int = 8,
    fault: Any, after_failover: int = 10, timeout: float = 90.0,
) -> tuple[dict[int, WorkerLog], Instance, float, float]:
    """Run units of work on ``tasks`` tasks, start ``fault`` (a blocking callable returning a
    future of the new writer) in a thread after a few, stop once every task committed
    ``after_failover`` units after the failover. Returns the logs, the new writer, the
    monotonic time of its promotion and the loop's largest heartbeat gap in seconds."""
    Session = async_sessionmaker(engine, expire_on_commit=False)
    node = node_expression(cluster)
    logs = {w: WorkerLog() for w in range(tasks)}
    done = asyncio.Event()
    ticks: list[float] = []

    async def heartbeat() -> None:
        while not done.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    async def worker(w: int) -> None:
        log = logs[w]
        seq = 0
        deadline = time.monotonic() + timeout
        while not done.is_set():
            assert time.monotonic() < deadline, f"task {w}: no end within {timeout} s: {log.errors}"
            seq += 1
            log.attempted.add(seq)
            log.current_seq = seq
            try:
                async with Session() as session, session.begin():
                    session.add_all([model(worker=w, seq=seq, part=p, node=node) for p in (0, 1)])
            except sa.exc.DBAPIError as exc:
                # Move on to the next unit of work: never re-run one whose outcome is unknown.
                log.errors.append((seq, time.monotonic(), exc.orig, exc))  # type: ignore[arg-type]
                log.resumed_at = None
                continue
            if log.errors and log.resumed_at is None:
                log.resumed_at = time.monotonic()
            log.committed.append(seq)

    await warm_up(engine, tasks)
    beat = asyncio.create_task(heartbeat())
    workers = [asyncio.create_task(worker(w), name=f"orm-task-{w}") for w in range(tasks)]
    future: concurrent.futures.Future[Instance] | None = None
    try:
        while min(len(log.committed) for log in logs.values()) < 3:
            assert not any(t.done() for t in workers), [t.exception() for t in workers if t.done()]
            await asyncio.sleep(0.01)
        future = await asyncio.to_thread(fault)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            failed = [t for t in workers if t.done()]
            assert not failed, [t.exception() for t in failed]
            if future.done():
                future.result()
                for log in logs.values():
                    if log.seq_at_failover_end is None:
                        log.seq_at_failover_end = log.current_seq
                if all(log.caught_up(after_failover) for log in logs.values()):
                    break
            await asyncio.sleep(0.05)
    finally:
        done.set()
        finished, stuck = await asyncio.wait(workers, timeout=30)
        for t in stuck:
            t.cancel()
        await beat
    assert not stuck, f"tasks still blocked in a database call 30 s after the end: {[t.get_name() for t in stuck]}"
    for t in finished:
        t.result()
    assert future is not None, "the fault never started"
    new = future.result(60)
    promoted = [e.monotonic for e in cluster.events if e.kind == "promote" and e.instance_name == new.name]
    gap = max((b - a for a, b in itertools.pairwise(ticks)), default=0.0)
    return logs, new, promoted[-1], gap
