"""SQLAlchemy AsyncSession units of work on 8 tasks through a real writer failover, on both
engines (``create_async_engine`` with the ``sturdydb_async`` dialects): every unit whose commit
returned is on the new writer exactly once, nothing lands on a wrong node, the pool keeps a
connection that failed over successfully and invalidates one whose outcome is unknown, and
afterwards it hands out connections to the new writer only."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from orm_workload import (
    engine_for,
    new_unit_table,
    node_expression,
    resume_delays,
    start_failover,
    summary,
    verify,
)
from orm_workload_async import async_engine_for, run_workload

import sturdydb
from sturdydb_testing import Cluster


@pytest.mark.parametrize("old_writer", ["kill", "freeze"])
def test_async_orm_units_of_work_survive_a_writer_failover(aurora_cluster: Cluster, old_writer: str) -> None:
    sync_engine = engine_for(aurora_cluster)  # creates the table and verifies (plain sync reads)
    model = new_unit_table(sync_engine)
    old = aurora_cluster.writer
    assert old is not None

    async def scenario() -> tuple[object, ...]:
        engine = async_engine_for(aurora_cluster, pool_size=8, max_overflow=4)
        try:
            logs, new, promoted_at, gap = await run_workload(
                engine, model, aurora_cluster, tasks=8,
                fault=lambda: start_failover(aurora_cluster, old_writer), after_failover=10, timeout=60)
            # Afterwards the pool only hands out connections to the new writer.
            for _ in range(8):
                async with engine.connect() as conn:
                    assert (await conn.execute(sa.select(node_expression(aurora_cluster)))).scalar() == new.name
            return logs, new, promoted_at, gap
        finally:
            await engine.dispose()

    try:
        logs, new, promoted_at, gap = asyncio.run(scenario())  # type: ignore[misc]
        errors = [(orig, exc) for log in logs.values() for _, _, orig, exc in log.errors]  # type: ignore[attr-defined]
        assert errors, "no unit of work saw the failover"
        for orig, exc in errors:
            # SQLAlchemy's OperationalError around a sturdydb failover outcome, never a bare driver error.
            assert isinstance(exc, sa.exc.OperationalError), repr(exc)
            assert isinstance(orig, sturdydb.FailoverError), repr(orig)
            # Only "nothing applied" keeps the pooled connection; the others invalidate it.
            assert exc.connection_invalidated is (not isinstance(orig, sturdydb.FailoverSuccessError))
        verify(aurora_cluster, sync_engine, model, logs, old.name, new.name)  # type: ignore[arg-type, attr-defined]
        delays = resume_delays(logs, promoted_at)  # type: ignore[arg-type]
        hit = sum(1 for log in logs.values() if log.errors)  # type: ignore[attr-defined]
        assert len(delays) == hit
        # The async failover suite's rule for "the event loop was blocked" (a 10 ms heartbeat task).
        assert gap < 1.0, f"the event loop was blocked for {gap:.3f} s"  # type: ignore[operator]
        print(f"\n{aurora_cluster.engine} {old_writer} (async): {len(errors)} errors on {hit} of 8 tasks; "
              f"{summary(delays)}; largest loop heartbeat gap {gap:.3f} s")
    finally:
        sync_engine.dispose()
