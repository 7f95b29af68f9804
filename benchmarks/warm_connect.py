"""Warm connect: a pooled application's connect cost, raw driver vs ``failover,host_monitoring``.

Once a process has connected (plugins imported, chain built, dialect detected, the cluster's
topology known), each further connect is what a pool pays. Measured per variant, interleaved
round by round so machine noise hits every variant alike, medians of ``--rounds`` connects:

- ``plain``: the machine's own servers (PostgreSQL 127.0.0.1:5432, MariaDB 127.0.0.1:3306):
  raw driver, sturdydb with ``plugins=""``, and with ``failover,host_monitoring``;
- ``aurora``: a local Aurora-like cluster (``sturdydb-testing``): the raw driver through the
  cluster endpoint, and sturdydb with ``failover,host_monitoring`` through the same endpoint,
  which routes to the writer the topology monitor verified and checks that it is the writer
  (one query on the new connection: the price of never trusting the endpoint's DNS).

Targets (issue 16): at most 1.05x the raw driver for ``failover,host_monitoring`` (both), and
for MySQL with no plugins. Wall clock on a shared machine is noisy: ``cpu_us`` (the client's own
CPU time per connect) is reported beside it.

Run: ``.nox/integration/bin/python benchmarks/warm_connect.py [--rounds 60] [--engines pg,mysql] [--no-aurora]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import mysql.connector
import psycopg

import sturdydb

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"
MYSQL: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "",
                         "database": "test", "use_pure": True}
PLUGINS = "failover,host_monitoring"


def _interleaved(variants: dict[str, Callable[[], None]], rounds: int) -> dict[str, dict[str, float]]:
    for fn in variants.values():  # warm: plugins imported, chains built, dialects detected
        for _ in range(3):
            fn()
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append((time.process_time() - c) * 1e6)
            wall[name].append((time.perf_counter() - t) * 1e6)
    raw = next(iter(variants))
    raw_wall = statistics.median(wall[raw])
    raw_cpu = statistics.median(cpu[raw])
    return {
        name: {
            "median_us": round(statistics.median(wall[name]), 1),
            "ratio": round(statistics.median(wall[name]) / raw_wall, 3),
            "cpu_us": round(statistics.median(cpu[name]), 1),
            "cpu_ratio": round(statistics.median(cpu[name]) / raw_cpu, 3),
        }
        for name in variants
    }


def plain(engine: str, rounds: int) -> dict[str, dict[str, float]]:
    if engine == "pg":
        return _interleaved({
            "raw psycopg": lambda: psycopg.Connection.connect(PG).close(),
            "sturdydb, no plugins": lambda: sturdydb.connect(psycopg.Connection.connect, PG, plugins="").close(),
            f"sturdydb, {PLUGINS}": lambda: sturdydb.connect(psycopg.Connection.connect, PG, plugins=PLUGINS).close(),
        }, rounds)
    return _interleaved({
        "raw mysql-connector": lambda: mysql.connector.connect(**MYSQL).close(),
        "sturdydb, no plugins": lambda: sturdydb.connect(mysql.connector.connect, plugins="", **MYSQL).close(),
        f"sturdydb, {PLUGINS}": lambda: sturdydb.connect(mysql.connector.connect, plugins=PLUGINS, **MYSQL).close(),
    }, rounds)


def aurora(engine: str, rounds: int) -> dict[str, dict[str, float]]:
    from sturdydb_testing import MariaDBCluster, PostgresCluster

    cls = PostgresCluster if engine == "pg" else MariaDBCluster
    extra: dict[str, Any] = {} if engine == "pg" else {"use_pure": True}
    target: Callable[..., Any] = psycopg.Connection.connect if engine == "pg" else mysql.connector.connect
    with cls(replicas=1, name=f"warm-{engine}") as cluster:
        raw_kwargs = {**cluster.address_kwargs("cluster"), **extra}
        conninfo = cluster.conninfo("cluster")
        keep = sturdydb.connect(target, conninfo, plugins=PLUGINS, **extra)  # the pool's first
        try:
            return _interleaved({
                "raw, cluster endpoint": lambda: target(**raw_kwargs).close(),
                f"sturdydb, {PLUGINS}": lambda: sturdydb.connect(target, conninfo, plugins=PLUGINS, **extra).close(),
            }, rounds)
        finally:
            keep.close()
            sturdydb.release_resources()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--engines", default="pg,mysql")
    parser.add_argument("--no-aurora", action="store_true", help="only the machine's own servers")
    parser.add_argument("--quick", action="store_true", help="20 rounds, no cluster")
    args = parser.parse_args(argv)
    rounds = 20 if args.quick else args.rounds
    results: dict[str, Any] = {
        "title": "Warm connect (a pool's connect: raw driver vs failover,host_monitoring)",
        "benchmark": "warm_connect",
        "settings": {"rounds": rounds, "statistic": "median, variants interleaved",
                     "target": "failover,host_monitoring <= 1.05x raw (plain and aurora); mysql no plugins <= 1.05x"},
        "engines": {},
    }
    for engine in args.engines.split(","):
        found: dict[str, Any] = {"plain": plain(engine, rounds)}
        if not (args.no_aurora or args.quick):
            found["aurora"] = aurora(engine, rounds)
        results["engines"][engine] = found
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
