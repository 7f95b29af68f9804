"""SQLAlchemy ORM units of work on 8 threads through a real writer failover, on both engines and
through the sturdydb dialect of each of the four drivers:
every unit whose commit returned is on the new writer exactly once, nothing lands on a wrong
node, and the workload goes on by simply moving to its next unit of work after an error."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from orm_workload import (
    WorkerLog,
    engine_for,
    new_unit_table,
    resume_delays,
    run_workload,
    start_failover,
    summary,
    verify,
)

import sturdydb
from sturdydb_testing import Cluster, Instance
from sturdydb_testing.drivers import Driver
from sturdydb_testing.pytest_plugin import every_driver


@every_driver
@pytest.mark.parametrize("old_writer", ["kill", "freeze"])
def test_orm_units_of_work_survive_a_writer_failover(aurora_cluster: Cluster, dbapi_driver: Driver,
                                                     old_writer: str) -> None:
    engine = engine_for(aurora_cluster, dbapi_driver, pool_size=8, max_overflow=4)
    try:
        logs, new, promoted_at, errors = _episode(engine, aurora_cluster, old_writer)
        for orig, exc in errors:
            # What the application sees: SQLAlchemy's OperationalError around a sturdydb failover
            # outcome (which is also the driver's OperationalError), never a bare driver error.
            assert isinstance(exc, sa.exc.OperationalError), repr(exc)
            assert isinstance(orig, sturdydb.FailoverError), repr(orig)
            # Only "nothing applied" keeps the pooled connection; the others invalidate it.
            assert exc.connection_invalidated is (not isinstance(orig, sturdydb.FailoverSuccessError))
        delays = resume_delays(logs, promoted_at)
        # Every worker that got an error committed again after its last one. A worker may get
        # none (its connection failed over in the pool's rollback on checkin, which counts as a
        # success): it committed units begun after the failover instead (run_workload waits for both).
        hit = sum(1 for log in logs.values() if log.errors)
        assert len(delays) == hit
        print(f"\n{dbapi_driver.name} {old_writer}: {len(errors)} errors "
              f"({_kinds(errors)}) on {hit} of 8 workers; {summary(delays)}")
        # Afterwards the pool only hands out connections to the new writer.
        with engine.connect() as conn:
            node = conn.execute(sa.select(_node(aurora_cluster))).scalar()
            assert node == new.name
    finally:
        engine.dispose()


def test_orm_units_of_work_resume_after_a_writer_freeze_in_steady_state(aurora_cluster: Cluster) -> None:
    """The same freeze with the topology monitor in steady state: it polls the writer once a
    minute (both poll intervals), so it does not notice the freeze by itself. The workers'
    calls passing ``socket_timeout`` (2 s) are the signal (``sturdydb_host_suspected``): the
    monitor probes the other hosts then, long before the cancel of those calls goes
    unanswered (``auxiliary_query_timeout_sec``, 20 s here)."""
    from sturdydb_failover import monitors

    steady = {"topology_refresh_ms": 60000, "cluster_topology_high_refresh_rate_ms": 60000,
              "auxiliary_query_timeout_sec": 20, "topology-monitoring-socket_timeout": 20}
    engine = engine_for(aurora_cluster, pool_size=8, max_overflow=4, props=steady)
    try:
        logs, _, promoted_at, errors = _episode(engine, aurora_cluster, "freeze")
        assert all(isinstance(orig, sturdydb.FailoverError) for orig, _ in errors), errors
        delays = resume_delays(logs, promoted_at)
        hit = sum(1 for log in logs.values() if log.errors)
        print(f"\n{aurora_cluster.engine} freeze, monitor in steady state: {len(errors)} errors "
              f"({_kinds(errors)}) on {hit} of 8 workers; {summary(delays)}")
        (monitor,) = monitors.all()
        # The suspicion started the round of probes that found the promoted writer.
        assert monitor.last_doubt_reason == "a call exceeded socket_timeout=2s"
        assert monitor.doubt_wins == 1
    finally:
        engine.dispose()


def _episode(engine: sa.Engine, cluster: Cluster, old_writer: str) -> tuple[
        dict[int, WorkerLog], Instance, float, list[tuple[BaseException, BaseException]]]:
    """Units of work on 8 threads through a failover whose old writer is killed or frozen; every
    committed unit is then checked on the new writer. Returns the workers' logs, the new
    writer, the promotion's monotonic time and every (DBAPI error, SQLAlchemy error) seen."""
    model = new_unit_table(engine)
    old = cluster.writer
    assert old is not None
    logs, new, promoted_at = run_workload(
        engine, model, cluster, threads=8,
        fault=lambda: start_failover(cluster, old_writer), after_failover=10, timeout=60)
    errors = [(orig, exc) for log in logs.values() for _, _, orig, exc in log.errors]
    assert errors, "no unit of work saw the failover"
    verify(cluster, engine, model, logs, old.name, new.name)
    return logs, new, promoted_at, errors


def _node(cluster: Cluster) -> Any:
    from orm_workload import node_expression

    return node_expression(cluster)


def _kinds(errors: list[tuple[BaseException, BaseException]]) -> str:
    counts: dict[str, int] = {}
    for orig, _ in errors:
        name = next(c.__name__ for c in type(orig).__mro__ if c.__module__.startswith("sturdydb"))
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n} x{c}" for n, c in sorted(counts.items()))
