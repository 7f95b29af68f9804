"""Benchmark: read/write splitting on a 3-instance cluster (writer + 2 replicas). Prints JSON.

Starts a ``sturdydb_testing`` cluster per engine (PostgreSQL, MariaDB) on loopback and runs:

- **workload**: ``--ops`` operations, 90 % reads (a SELECT that reports the instance it ran on)
  and 10 % writes (an INSERT), in two ways: one connection to the writer doing everything
  (``writer only``), and one connection with ``read_write_splitting`` and warm
  ``read_write_pools`` (round-robin reader choice) that sets ``read_only`` around each
  operation. Reports operations per second and how the reads spread over the instances.
- **flip**: the cost of one ``read_only`` assignment that moves the connection (writer to
  reader or back), with warm pools and with the connections kept per application connection
  (no pools), also with the default chain's plugins (host monitoring keeps one registration
  per host the connection used, so a switch only points it at the connection), median and
  p99 in microseconds over ``--flips`` flips.
  Target: < 50 us with warm pools.

Usage: ``python read_write_split.py [--engine pg|mysql|all] [--ops 2000] [--flips 4000]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any


def _target(engine: str) -> Callable[..., Any]:
    if engine == "pg":
        import psycopg

        return psycopg.Connection.connect
    import mysql.connector

    return mysql.connector.connect


def _connect(cluster: Any, **props: Any) -> Any:
    import sturdydb

    options: dict[str, Any] = {"autocommit": True, "connect_timeout": 3, **props}
    if cluster.engine == "mysql":
        options["use_pure"] = True
    return sturdydb.connect(_target(cluster.engine), cluster.conninfo(), **options)


def _workload(cluster: Any, conn: Any, table: str, ops: int, split: bool) -> dict[str, Any]:
    where = "pg_catalog.aurora_db_instance_identifier()" if cluster.engine == "pg" else "@@aurora_server_id"
    read_sql = f"SELECT {where}, count(*) FROM {table}"
    write_sql = f"INSERT INTO {table} (id) VALUES (%s)"
    reads: Counter[str] = Counter()
    cur = conn.cursor()
    start = time.perf_counter()
    for i in range(ops):
        if i % 10 == 9:
            if split:
                conn.read_only = False
            cur.execute(write_sql, (i,))
        else:
            if split:
                conn.read_only = True
            cur.execute(read_sql)
            reads[str(cur.fetchone()[0])] += 1
            cur.fetchall()
    elapsed = time.perf_counter() - start
    return {"ops_per_s": round(ops / elapsed, 1), **{f"reads on {k}": v for k, v in sorted(reads.items())}}


def _flips(conn: Any, flips: int) -> dict[str, float]:
    samples: list[float] = []
    value = bool(conn.read_only)
    clock = time.perf_counter_ns
    for _ in range(flips):
        value = not value
        t0 = clock()
        conn.read_only = value
        samples.append((clock() - t0) / 1000.0)
    samples.sort()
    return {"median_us": round(statistics.median(samples), 2),
            "p99_us": round(samples[int(len(samples) * 0.99) - 1], 2),
            "min_us": round(samples[0], 2), "flips": flips}


def _run_engine(engine: str, ops: int, flips: int) -> dict[str, Any]:
    import sturdydb
    from sturdydb_testing import MariaDBCluster, PostgresCluster

    cluster_type = PostgresCluster if engine == "pg" else MariaDBCluster
    cluster = cluster_type(replicas=2, name=f"bench-rw-{engine}").start()
    try:
        setup = _connect(cluster, plugins="")
        table = f"rw_bench_{uuid.uuid4().hex[:8]}"
        setup.cursor().execute(f"CREATE TABLE {table} (id INT NOT NULL)")
        setup.close()
        cluster.wait_for_replication(timeout=20)
        result: dict[str, Any] = {}
        plain = _connect(cluster, plugins="")
        _workload(cluster, plain, table, ops // 10, split=False)  # warm-up
        result["workload: one writer connection"] = _workload(cluster, plain, table, ops, split=False)
        plain.close()
        split_props = {"plugins": "read_write_splitting,failover", "read_write_pools": True,
                       "reader_host_selector_strategy": "round_robin"}
        split = _connect(cluster, **split_props)
        _workload(cluster, split, table, ops // 10, split=True)  # warm the pools
        result["workload: read_write_splitting, pools"] = _workload(cluster, split, table, ops, split=True)
        split.close()
        flip: dict[str, Any] = {}
        for label, props in (
            ("warm pools (read_write_splitting)", {"plugins": "read_write_splitting", "read_write_pools": True}),
            ("warm pools (read_write_splitting,failover)", split_props),
            ("kept connections, no pools (read_write_splitting,failover)",
             {"plugins": "read_write_splitting,failover"}),
            ("kept connections, with the default chain (+ tracker, host_monitoring)",
             {"plugins": "read_write_splitting,aurora_connection_tracker,failover,host_monitoring"}),
            ("warm pools, with the default chain (+ tracker, host_monitoring)",
             {**split_props,
              "plugins": "read_write_splitting,aurora_connection_tracker,failover,host_monitoring"}),
        ):
            sturdydb.reset_process_state()
            conn = _connect(cluster, **props)
            _flips(conn, 200)  # warm: every connection opened and its session state applied
            flip[label] = _flips(conn, flips)
            conn.close()
        result["read_only flip"] = flip
        return result
    finally:
        sturdydb.reset_process_state()
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["pg", "mysql", "all"], default="all")
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--flips", type=int, default=4000)
    parser.add_argument("--quick", action="store_true", help="fewer operations and flips")
    args = parser.parse_args(argv)
    ops, flips = (400, 1000) if args.quick else (args.ops, args.flips)
    engines = ["pg", "mysql"] if args.engine == "all" else [args.engine]
    out: dict[str, Any] = {
        "title": "Read/write splitting: 90 % reads over 3 instances, and the cost of a read_only flip",
        "command": "python packages/plugin-read-write/benchmarks/read_write_split.py",
        "targets": "reads spread over the readers; a read_only flip with warm pools < 50 us",
    }
    for engine in engines:
        out[engine] = _run_engine(engine, ops, flips)
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
