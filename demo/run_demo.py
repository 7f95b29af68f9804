"""sturdydb demo (first stage): the plugin pipeline around a real PostgreSQL connection.

Connects to the machine's PostgreSQL (127.0.0.1:5432, database ``test``) three ways: the raw
driver, sturdydb with no plugins, and sturdydb with the example third-party plugin
``execute_time``, and shows that all three return the same rows while sturdydb adds only
microseconds. The failover demo replaces this once the failover plugin and the test clusters
exist.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import psycopg

import sturdydb


def _measure(cursor: object, rounds: int) -> float:
    execute = cursor.execute  # type: ignore[attr-defined]
    fetchone = cursor.fetchone  # type: ignore[attr-defined]
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        execute("SELECT 1")
        fetchone()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conninfo", default="host=127.0.0.1 port=5432 dbname=test user=postgres")
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args(argv)

    print("sturdydb pipeline demo against", args.conninfo)
    try:
        raw = psycopg.connect(args.conninfo)
    except psycopg.OperationalError as exc:
        print(f"cannot reach PostgreSQL ({exc}); start it or pass --conninfo", file=sys.stderr)
        return 1
    bare = sturdydb.connect(psycopg.Connection.connect, args.conninfo, plugins="")
    timed = sturdydb.connect(psycopg.Connection.connect, args.conninfo, plugins="execute_time")
    rows = []
    for name, conn in (("raw psycopg", raw), ("sturdydb, no plugins", bare), ("sturdydb + execute_time", timed)):
        cur = conn.cursor()
        cur.execute("SELECT version(), current_database()")
        first = cur.fetchone()
        median_us = _measure(cur, args.rounds)
        rows.append((name, median_us, first[1] if first else None))
        plugins = list(conn.context.pipeline.codes) if isinstance(conn, sturdydb.Connection) else "-"
        print(f"  {name:<26} plugins={plugins!s:<18} SELECT 1 + fetchone median {median_us:7.1f} us")
    base = rows[0][1]
    for name, median_us, _ in rows[1:]:
        print(f"  {name:<26} adds {median_us - base:+.1f} us per execute+fetch")
    for conn in (raw, bare, timed):
        conn.close()
    sturdydb.release_resources()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
