"""How long the event loop is blocked by handing work off-loop (``run_off_loop``); prints JSON.

Two measures on one asyncio loop:

- ``handoff_ms``: wall time of the synchronous part of ``run_off_loop(noop)`` on the loop's
  thread (what every ``connect_async`` and every failover pays on the loop), ``--calls`` times
  in a row, each awaited before the next;
- ``heartbeat_gap_ms``: a task that sleeps 1 ms in a loop records the gaps between its ticks
  while another task opens and closes ``--connects`` connections with ``sturdydb.connect_async``
  (psycopg ``AsyncConnection``, failover + host_monitoring, local PostgreSQL); the largest gap
  is the longest the loop was blocked (the heartbeat of the async integration tests, finer).

Run: ``.nox/integration/bin/python benchmarks/_offloop_blocking.py`` (not part of ``nox -s
bench``: it compares implementations of the core, see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import psycopg

import sturdydb
from sturdydb.plugin_api import run_off_loop

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"


def _noop() -> None:
    return None


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 3),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "max": round(ordered[-1], 3),
    }


async def _handoff(calls: int) -> list[float]:
    spent: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        future = run_off_loop(_noop)
        spent.append((time.perf_counter() - started) * 1000)
        await future
    return spent


async def _heartbeat_during_connects(connects: int, plugins: str) -> dict[str, Any]:
    gaps: list[float] = []
    stop = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append((now - last) * 1000)
            last = now

    beat = asyncio.create_task(heartbeat())
    started = time.perf_counter()
    for _ in range(connects):
        conn = await sturdydb.connect_async(psycopg.AsyncConnection.connect, PG, plugins=plugins, autocommit=True)
        await conn.close()
    elapsed = time.perf_counter() - started
    stop.set()
    await beat
    return {"plugins": plugins, "connects": connects, "connect_ms_mean": round(elapsed * 1000 / connects, 2),
            "heartbeat_gap_ms": _summary(gaps)}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--connects", type=int, default=100)
    args = parser.parse_args()

    async def run() -> dict[str, Any]:
        await _handoff(20)  # warm-up (and the first worker's start)
        handoff = _summary(await _handoff(args.calls))
        beats = [await _heartbeat_during_connects(args.connects, plugins)
                 for plugins in ("", "failover,host_monitoring")]
        return {"benchmark": "offloop_blocking", "calls": args.calls, "handoff_ms": handoff, "connects": beats}

    print(json.dumps(asyncio.run(run()), indent=2), flush=True)
    sturdydb.release_resources()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
