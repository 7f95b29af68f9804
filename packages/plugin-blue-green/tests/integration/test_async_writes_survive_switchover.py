"""Writes from async tasks through a Blue/Green switchover, on both engines.

The async connections (``sturdydb.connect_async``) have their calls held on the event loop
(awaited, never a blocking wait: a heartbeat task keeps ticking through the switchover) and
moved to green off-loop; the guarantee is the sync scenario's: zero lost acknowledged writes,
zero duplicates, zero writes on old blue after its writes were blocked, only errors that say
what happened.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import bg_scenarios as sc
import mysql.connector.aio
import psycopg
import pytest

import sturdydb
from sturdydb import FailoverSuccessError, TransactionResolutionUnknownError
from sturdydb_testing import BlueGreenDeployment

pytestmark = pytest.mark.timeout(300)


async def _connect(deployment: BlueGreenDeployment, **options: Any) -> sturdydb.AsyncConnection:
    blue = deployment.blue
    target: Callable[..., Any] = psycopg.AsyncConnection.connect
    extra: dict[str, Any] = {}
    if blue.engine == "mysql":
        target = mysql.connector.aio.connect
        extra["ssl_disabled"] = True  # the aio driver's TLS probe fails on the emulated servers
    kwargs = {**blue.connect_kwargs("cluster"), **extra, "autocommit": True, "connect_timeout": 5,
              "plugins": "bg", **options}
    return await sturdydb.connect_async(target, **kwargs)


async def _write_through(deployment: BlueGreenDeployment, tasks: int, **options: Any) -> tuple[sc.Workload, int]:
    work = sc.Workload()
    sql = sc.insert_sql(deployment.blue)
    stop = asyncio.Event()
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    async def writer(index: int) -> None:
        conn = await _connect(deployment, **options)
        try:
            cur = conn.cursor()
            key = f"{index}-{uuid.uuid4().hex}"
            while not stop.is_set():
                try:
                    await cur.execute(sql, (key,))
                except FailoverSuccessError as exc:  # not applied: the same write again
                    work.safe_errors.append(f"{type(exc).__name__}: {exc}")
                    cur = conn.cursor()
                    continue
                except TransactionResolutionUnknownError:
                    work.unknown.append(key)
                    cur = conn.cursor()
                except Exception as exc:
                    work.other_errors.append(f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(0.05)
                else:
                    work.acknowledged.append((key, time.time()))
                key = f"{index}-{uuid.uuid4().hex}"
        finally:
            await conn.close()

    beat = asyncio.create_task(heartbeat())
    writers = [asyncio.create_task(writer(i)) for i in range(tasks)]
    await asyncio.sleep(1.0)
    before = ticks
    await asyncio.to_thread(deployment.switchover)  # the loop keeps serving the writers meanwhile
    during = ticks - before
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*writers), 60)
    await beat
    return work, during


def test_writes_from_async_tasks_survive_a_switchover_exactly_once(make_deployment: Any) -> None:
    deployment = make_deployment(dns_delay=5.0)
    sc.create_table(deployment)
    work, ticks_during_switchover = asyncio.run(_write_through(deployment, tasks=4, bg_interval_increased_ms=200))
    print(f"acknowledged={len(work.acknowledged)} unknown={len(work.unknown)} "
          f"safe_errors={work.safe_errors[:3]} other_errors={work.other_errors[:3]} "
          f"max_gap={sc.max_gap(work):.3f}s heartbeat_ticks_during_switchover={ticks_during_switchover}")
    sc.assert_guarantee(deployment, work)
    assert len(work.acknowledged) > 20, f"the workload hardly ran: {len(work.acknowledged)} writes"
    # The loop was never blocked by a held call: the heartbeat ran during the switchover.
    assert ticks_during_switchover > 0


def test_async_writes_survive_a_switchover_that_blocks_blue_before_the_plugin_sees_it(make_deployment: Any) -> None:
    # No hold: writes in flight are cut off or refused by read-only blue, then moved (the
    # error path of sturdydb_execute_async, awaiting the switch on the loop).
    deployment = make_deployment(dns_delay=5.0, block_delay=0.0)
    sc.create_table(deployment)
    work, ticks_during_switchover = asyncio.run(_write_through(deployment, tasks=4, bg_interval_increased_ms=200))
    print(f"acknowledged={len(work.acknowledged)} unknown={len(work.unknown)} "
          f"safe_errors={work.safe_errors[:3]} other_errors={work.other_errors[:3]}")
    sc.assert_guarantee(deployment, work)
    assert ticks_during_switchover > 0


def test_async_writes_survive_blue_blocked_long_before_the_monitors_next_poll(make_deployment: Any) -> None:
    # As the sync twin: a 20 s poll interval, so the plugin learns of the switchover only by
    # reading the status (off the loop) when blue refuses or drops a write.
    deployment = make_deployment(dns_delay=5.0, block_delay=0.0)
    sc.create_table(deployment)
    work, ticks_during_switchover = asyncio.run(_write_through(deployment, tasks=4, bg_interval_increased_ms=20000))
    print(f"acknowledged={len(work.acknowledged)} unknown={len(work.unknown)} "
          f"safe_errors={work.safe_errors[:3]} other_errors={work.other_errors[:3]}")
    sc.assert_guarantee(deployment, work)
    assert ticks_during_switchover > 0
