"""Core overhead benchmark: what sturdydb adds to execute+fetchone and to connect.

In one process, interleaved round by round so that machine noise hits every variant alike:
the raw driver, sturdydb with no plugins, and sturdydb with a chain of two pass-through
wrapper plugins; connect latency raw vs wrapped once the dialect is known; for psycopg,
psycopg2, mysql-connector and PyMySQL against the machine's own servers. The client and the server backend are
pinned to the same core, because a server on the other core adds wake-up latency that swamps
microsecond differences (see the emulation notes). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Generator
from typing import Any, ClassVar

import mysql.connector
import psycopg
import psycopg2
import pymysql

import sturdydb
from sturdydb import Call, Plugin, hookimpl, register_plugin

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"
MYSQL: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}


class _PassThrough(Plugin):
    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return network_bound

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        return (yield)


class BenchA(_PassThrough):
    code: ClassVar[str] = "bench_a"
    weight: ClassVar[int] = 10


class BenchB(_PassThrough):
    code: ClassVar[str] = "bench_b"
    weight: ClassVar[int] = 20


def _pin(pids: list[int]) -> None:
    core = {min(os.sched_getaffinity(0))}
    for pid in pids:
        try:
            os.sched_setaffinity(pid, core)
        except OSError:
            pass  # not ours to pin (not root): results are noisier, not wrong


def _summary(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    us = [s / 1000 for s in ordered]
    return {
        "median_us": round(statistics.median(us), 2),
        "p99_us": round(us[int(len(us) * 0.99) - 1], 2),
        "min_us": round(us[0], 2),
        "max_us": round(us[-1], 2),
        "samples": len(us),
    }


def _exec_fetch(cur: Any) -> Callable[[], None]:
    execute, fetchone = cur.execute, cur.fetchone

    def run() -> None:
        execute("SELECT 1")
        fetchone()

    return run


def _interleaved(variants: dict[str, Callable[[], None]], rounds: int, batch: int) -> dict[str, dict[str, float]]:
    samples: dict[str, list[int]] = {name: [] for name in variants}
    for fn in variants.values():  # warm up caches and prepared paths
        for _ in range(200):
            fn()
    for _ in range(rounds):
        for name, fn in variants.items():
            for _ in range(batch):
                start = time.perf_counter_ns()
                fn()
                samples[name].append(time.perf_counter_ns() - start)
    return {name: _summary(s) for name, s in samples.items()}


def bench_pg(rounds: int, batch: int) -> dict[str, Any]:
    raw = psycopg.connect(PG)
    bare = sturdydb.connect(psycopg.Connection.connect, PG, plugins="")
    chained = sturdydb.connect(psycopg.Connection.connect, PG, plugins="bench_a,bench_b")
    pids = [os.getpid()]
    for conn in (raw, bare, chained):
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        pids.append(int(row[0]))
    _pin(pids)
    execute = _interleaved({
        "raw psycopg": _exec_fetch(raw.cursor()),
        "sturdydb, no plugins": _exec_fetch(bare.cursor()),
        "sturdydb, 2 pass-through plugins": _exec_fetch(chained.cursor()),
    }, rounds, batch)
    connect = _interleaved({
        "raw psycopg connect": lambda: psycopg.connect(PG).close(),
        "sturdydb connect (no plugins)": lambda: sturdydb.connect(psycopg.Connection.connect, PG, plugins="").close(),
    }, max(3, rounds // 10), 10)
    for conn in (raw, bare, chained):
        conn.close()
    return {"execute+fetchone": execute, "connect": connect}


def _mysql_thread_ids(conns: list[Any], cursor_args: dict[str, Any] | None = None) -> list[int]:
    """The OS thread ids of the MariaDB threads serving ``conns`` (MariaDB 10.5+ shows them).

    ``cursor_args``: what makes the driver's cursor buffered (PyMySQL's always are).
    """
    ids = []
    for conn in conns:
        cur = conn.cursor(**({"buffered": True} if cursor_args is None else cursor_args))
        try:
            cur.execute("SELECT TID FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()")
            row = cur.fetchone()
            if row and row[0]:
                ids.append(int(row[0]))
        except Exception:
            pass  # MySQL has no TID column: unpinned, noisier
        finally:
            cur.close()
    return ids


def bench_mysql(rounds: int, batch: int) -> dict[str, Any]:
    raw = mysql.connector.connect(**MYSQL)
    bare = sturdydb.connect(mysql.connector.connect, plugins="", **MYSQL)
    chained = sturdydb.connect(mysql.connector.connect, plugins="bench_a,bench_b", **MYSQL)
    _pin([os.getpid(), *_mysql_thread_ids([raw, bare, chained])])
    execute = _interleaved({
        "raw mysql-connector": _exec_fetch(raw.cursor(buffered=True)),
        "sturdydb, no plugins": _exec_fetch(bare.cursor(buffered=True)),
        "sturdydb, 2 pass-through plugins": _exec_fetch(chained.cursor(buffered=True)),
    }, rounds, batch)
    connect = _interleaved({
        "raw mysql-connector connect": lambda: mysql.connector.connect(**MYSQL).close(),
        "sturdydb connect (no plugins)": lambda: sturdydb.connect(mysql.connector.connect, plugins="", **MYSQL).close(),
    }, max(3, rounds // 10), 10)
    for conn in (raw, bare, chained):
        conn.close()
    return {"execute+fetchone": execute, "connect": connect}


def bench_psycopg2(rounds: int, batch: int) -> dict[str, Any]:
    conns: list[Any] = [psycopg2.connect(PG), sturdydb.connect(psycopg2.connect, PG, plugins=""),
             sturdydb.connect(psycopg2.connect, PG, plugins="bench_a,bench_b")]
    pids = [os.getpid()]
    for conn in conns:
        cur = conn.cursor()
        cur.execute("SELECT pg_backend_pid()")
        pids.append(int(cur.fetchone()[0]))
        conn.rollback()
        conn.autocommit = True  # no transaction piling up over the run
    _pin(pids)
    raw, bare, chained = conns
    execute = _interleaved({
        "raw psycopg2": _exec_fetch(raw.cursor()),
        "sturdydb, no plugins": _exec_fetch(bare.cursor()),
        "sturdydb, 2 pass-through plugins": _exec_fetch(chained.cursor()),
    }, rounds, batch)
    connect = _interleaved({
        "raw psycopg2 connect": lambda: psycopg2.connect(PG).close(),
        "sturdydb connect (no plugins)": lambda: sturdydb.connect(psycopg2.connect, PG, plugins="").close(),
    }, max(3, rounds // 10), 10)
    for conn in conns:
        conn.close()
    return {"execute+fetchone": execute, "connect": connect}


def bench_pymysql(rounds: int, batch: int) -> dict[str, Any]:
    raw = pymysql.connect(**MYSQL)
    bare = sturdydb.connect(pymysql.connect, plugins="", **MYSQL)
    chained = sturdydb.connect(pymysql.connect, plugins="bench_a,bench_b", **MYSQL)
    _pin([os.getpid(), *_mysql_thread_ids([raw, bare, chained], {})])
    execute = _interleaved({
        "raw PyMySQL": _exec_fetch(raw.cursor()),
        "sturdydb, no plugins": _exec_fetch(bare.cursor()),
        "sturdydb, 2 pass-through plugins": _exec_fetch(chained.cursor()),
    }, rounds, batch)
    connect = _interleaved({
        "raw PyMySQL connect": lambda: pymysql.connect(**MYSQL).close(),
        "sturdydb connect (no plugins)": lambda: sturdydb.connect(pymysql.connect, plugins="", **MYSQL).close(),
    }, max(3, rounds // 10), 10)
    for conn in (raw, bare, chained):
        conn.close()
    return {"execute+fetchone": execute, "connect": connect}


def _connect_pct(results: dict[str, Any], raw: str) -> float:
    found = results["connect"]
    return float(round(100 * (found["sturdydb connect (no plugins)"]["median_us"] / found[raw]["median_us"] - 1), 1))


def _overhead(results: dict[str, Any], raw: str) -> dict[str, float]:
    ex = results["execute+fetchone"]
    base = ex[raw]["median_us"]
    return {name: round(v["median_us"] - base, 2) for name, v in ex.items() if name != raw}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    if args.quick:
        args.rounds = 5
    register_plugin(BenchA, distribution="benchmark")
    register_plugin(BenchB, distribution="benchmark")
    pg = bench_pg(args.rounds, args.batch)
    my = bench_mysql(args.rounds, args.batch)
    pg2 = bench_psycopg2(args.rounds, args.batch)
    pymy = bench_pymysql(args.rounds, args.batch)
    pg_connect = pg["connect"]
    my_connect = my["connect"]
    out = {
        "title": "Core overhead (execute+fetchone of SELECT 1, connect)",
        "command": "python benchmarks/core_overhead.py",
        "targets": "no-plugin overhead <= 2 us per execute+fetch; connect overhead <= 5% of a raw connect",
        "psycopg": pg,
        "mysql-connector": my,
        "psycopg2": pg2,
        "PyMySQL": pymy,
        "overhead_us_vs_raw": {
            "psycopg": _overhead(pg, "raw psycopg"),
            "mysql-connector": _overhead(my, "raw mysql-connector"),
            "psycopg2": _overhead(pg2, "raw psycopg2"),
            "PyMySQL": _overhead(pymy, "raw PyMySQL"),
        },
        "connect_overhead_pct": {
            "psycopg": round(100 * (pg_connect["sturdydb connect (no plugins)"]["median_us"]
                                    / pg_connect["raw psycopg connect"]["median_us"] - 1), 1),
            "mysql-connector": round(100 * (my_connect["sturdydb connect (no plugins)"]["median_us"]
                                            / my_connect["raw mysql-connector connect"]["median_us"] - 1), 1),
            "psycopg2": _connect_pct(pg2, "raw psycopg2 connect"),
            "PyMySQL": _connect_pct(pymy, "raw PyMySQL connect"),
        },
    }
    print(json.dumps(out, indent=2))
    sturdydb.release_resources()


if __name__ == "__main__":
    main()
