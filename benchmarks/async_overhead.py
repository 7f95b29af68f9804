"""Async overhead benchmark: what sturdydb adds to an awaited execute+fetchone.

In one process and one event loop, interleaved round by round so that machine noise hits
every variant alike: the raw async driver (``psycopg.AsyncConnection``,
``mysql.connector.aio``), ``sturdydb.connect_async`` with no plugins, and with
``failover,host_monitoring`` (the async chain: failover's ``sturdydb_execute_async`` and host
monitoring's bookkeeping wrapper driven around the awaited call). Against the machine's own
servers, client and server backend pinned to one core as in ``core_overhead.py``. The
target (issue 14): within 10% of the raw async driver with failover and host_monitoring.
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import mysql.connector.aio
import psycopg

import sturdydb

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"
MYSQL: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test",
                         "ssl_disabled": True}
PLUGINS = "failover,host_monitoring"

Step = Callable[[], Awaitable[None]]


def _pin(pids: list[int]) -> None:
    core = {min(os.sched_getaffinity(0))}
    for pid in pids:
        try:
            os.sched_setaffinity(pid, core)
        except OSError:
            pass  # not ours to pin: noisier, not wrong


def _summary(samples_ns: list[int]) -> dict[str, float]:
    us = [s / 1000 for s in sorted(samples_ns)]
    return {
        "median_us": round(statistics.median(us), 2),
        "p99_us": round(us[int(len(us) * 0.99) - 1], 2),
        "min_us": round(us[0], 2),
        "samples": len(us),
    }


def _exec_fetch(cur: Any) -> Step:
    async def run() -> None:
        await cur.execute("SELECT 1")
        await cur.fetchone()

    return run


async def _interleaved(variants: dict[str, Step], rounds: int, batch: int) -> dict[str, dict[str, float]]:
    samples: dict[str, list[int]] = {name: [] for name in variants}
    for fn in variants.values():
        for _ in range(200):
            await fn()
    for _ in range(rounds):
        for name, fn in variants.items():
            for _ in range(batch):
                start = time.perf_counter_ns()
                await fn()
                samples[name].append(time.perf_counter_ns() - start)
    return {name: _summary(s) for name, s in samples.items()}


def _overhead(results: dict[str, dict[str, float]], raw: str) -> dict[str, float]:
    base = results[raw]["median_us"]
    return {name: round(100 * (r["median_us"] - base) / base, 1) for name, r in results.items() if name != raw}


async def bench_pg(rounds: int, batch: int) -> dict[str, Any]:
    raw = await psycopg.AsyncConnection.connect(PG, autocommit=True)
    bare = await sturdydb.connect_async(psycopg.AsyncConnection.connect, PG, plugins="", autocommit=True)
    full = await sturdydb.connect_async(psycopg.AsyncConnection.connect, PG, plugins=PLUGINS, autocommit=True)
    pids = [os.getpid()]
    for conn in (raw, bare, full):
        cur: Any = await conn.execute("SELECT pg_backend_pid()")
        row = await cur.fetchone()
        pids.append(int(row[0]))
    _pin(pids)
    results = await _interleaved({
        "raw psycopg AsyncConnection": _exec_fetch(raw.cursor()),
        "sturdydb async, no plugins": _exec_fetch(bare.cursor()),
        f"sturdydb async, {PLUGINS}": _exec_fetch(full.cursor()),
    }, rounds, batch)
    for conn in (raw, bare, full):
        await conn.close()
    return {"execute+fetchone": results, "overhead_pct_vs_raw": _overhead(results, "raw psycopg AsyncConnection")}


async def bench_mysql(rounds: int, batch: int) -> dict[str, Any]:
    raw = await mysql.connector.aio.connect(**MYSQL, autocommit=True)
    bare = await sturdydb.connect_async(mysql.connector.aio.connect, plugins="", autocommit=True, **MYSQL)
    full = await sturdydb.connect_async(mysql.connector.aio.connect, plugins=PLUGINS, autocommit=True, **MYSQL)
    raw_cur = await raw.cursor(buffered=True)
    bare_cur = await bare.cursor(buffered=True)
    full_cur = await full.cursor(buffered=True)
    tids = []
    cursors: tuple[Any, ...] = (raw_cur, bare_cur, full_cur)
    for cur in cursors:
        try:
            await cur.execute("SELECT TID FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()")
            row = await cur.fetchone()
            if row and row[0]:
                tids.append(int(row[0]))
        except Exception:
            pass  # no TID column: unpinned, noisier
    _pin([os.getpid(), *tids])
    results = await _interleaved({
        "raw mysql.connector.aio": _exec_fetch(raw_cur),
        "sturdydb async, no plugins": _exec_fetch(bare_cur),
        f"sturdydb async, {PLUGINS}": _exec_fetch(full_cur),
    }, rounds, batch)
    for conn in (raw, bare, full):
        await conn.close()
    return {"execute+fetchone": results, "overhead_pct_vs_raw": _overhead(results, "raw mysql.connector.aio")}


async def main(rounds: int, batch: int) -> dict[str, Any]:
    return {
        "title": "Async overhead (awaited execute+fetchone of SELECT 1)",
        "target": "failover+host_monitoring within 10% of the raw async driver (median)",
        "psycopg AsyncConnection": await bench_pg(rounds, batch),
        "mysql.connector.aio": await bench_mysql(rounds, batch),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.batch = 3, 100
    result = asyncio.run(main(args.rounds, args.batch))
    sturdydb.release_resources()
    print(json.dumps(result, indent=2))
