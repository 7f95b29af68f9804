"""Write pause through an Aurora Global Database switchover and region failover; prints JSON.

One emulated global database (``sturdydb_testing.global_db``, PostgreSQL, ``rpo_zero`` so an
unplanned failover loses no acknowledged commit) is started; each run moves the writer to the
other region while one application thread inserts unique ids in a tight loop through the
global writer endpoint, in one of two styles:

- ``sturdydb``: sturdydb with ``failover`` and the global properties; keeps its connection,
  re-runs a write after ``FailoverSuccessError`` and looks an unknown outcome up by its id;
- ``raw_reconnect``: psycopg alone; on any error connects again through the global endpoint
  (which follows the new writer after ``--dns-delay``) and looks the id up before writing again.

Measured per run: ``pause_s``, the longest gap between two acknowledged writes; ``lost``,
acknowledged ids missing on the new writer afterwards; ``duplicates``, ids present twice.

Run: ``.nox/integration/bin/python packages/plugin-failover/benchmarks/global_switchover.py --runs 3``
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import statistics
import sys
import threading
import time
import uuid
from typing import Any

import psycopg

import sturdydb
from sturdydb_testing.global_db import GlobalDatabase

STYLES = ("sturdydb", "raw_reconnect")
KINDS = ("switchover", "failover")


def _raw(gdb: GlobalDatabase) -> Any:
    assert gdb.global_endpoint is not None
    kwargs = gdb.regions[gdb.writer_region].address_kwargs(gdb.writer)
    kwargs.update(host=gdb.global_endpoint.address, port=gdb.global_endpoint.port)
    return psycopg.connect(**kwargs, autocommit=True, connect_timeout=2)


def _present(conn: Any, table: str, key: str) -> bool:
    row = conn.cursor().execute(f"SELECT count(*) FROM {table} WHERE id = %s", (key,)).fetchone()
    return bool(row and row[0])


def _writer(gdb: GlobalDatabase, style: str, table: str, stop: threading.Event,
            acked: list[tuple[float, str]]) -> None:
    conn: Any = None
    while not stop.is_set():
        key = uuid.uuid4().hex
        maybe = False
        while not stop.is_set():
            try:
                if conn is None:
                    conn = gdb.connect() if style == "sturdydb" else _raw(gdb)
                if maybe and _present(conn, table, key):
                    break
                conn.cursor().execute(f"INSERT INTO {table} (id) VALUES (%s)", (key,))
                acked.append((time.monotonic(), key))
                break
            except sturdydb.FailoverSuccessError:
                continue
            except sturdydb.StatementOutcomeUnknownError:
                maybe = True
            except Exception:
                maybe = True
                if style == "raw_reconnect" or not isinstance(conn, sturdydb.Connection):
                    if conn is not None:
                        try:
                            conn.close()
                        except Exception:
                            pass
                    conn = None
                time.sleep(0.005)
    if conn is not None:
        conn.close()


def one_run(gdb: GlobalDatabase, style: str, kind: str) -> dict[str, float]:
    table = f"bench_{uuid.uuid4().hex[:8]}"
    with _raw(gdb) as admin:
        admin.execute(f"CREATE TABLE {table} (id text NOT NULL)")
    gdb.wait_for_replication()
    acked: list[tuple[float, str]] = []
    stop = threading.Event()
    thread = threading.Thread(target=_writer, args=(gdb, style, table, stop, acked), name="bench-writer", daemon=True)
    thread.start()
    time.sleep(1.0)
    if kind == "switchover":
        gdb.switchover()
    else:
        gdb.failover(outage="region")
    time.sleep(gdb.dns_delay + 3.0)
    stop.set()
    thread.join(60)
    if kind == "failover":
        gdb.rebuild_region(gdb.secondary_region)
    times = [t for t, _ in acked]
    pause = max(b - a for a, b in itertools.pairwise(times))
    with _raw(gdb) as check:
        rows = check.execute(f"SELECT id, count(*) FROM {table} GROUP BY id").fetchall()
    found = {str(r[0]): int(r[1]) for r in rows}
    return {
        "pause_s": pause,
        "lost": float(sum(1 for _, k in acked if k not in found)),
        "duplicates": float(sum(1 for n in found.values() if n > 1)),
        "writes": float(len(acked)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dns-delay", type=float, default=2.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, Any] = {"title": "Aurora Global Database: write pause through a switchover and a region failover",
                               "benchmark": "global_switchover",
                               "settings": {"runs": args.runs, "dns_delay_s": args.dns_delay}}
    with GlobalDatabase(replicas=1, dns_delay=args.dns_delay, rpo_zero=True) as gdb:
        for kind in KINDS:
            for style in STYLES:
                runs = [one_run(gdb, style, kind) for _ in range(args.runs)]
                results[f"{kind}/{style}"] = {
                    "pause_s_median": statistics.median(r["pause_s"] for r in runs),
                    "pause_s_max": max(r["pause_s"] for r in runs),
                    "lost_total": sum(r["lost"] for r in runs),
                    "duplicates_total": sum(r["duplicates"] for r in runs),
                    "writes_total": sum(r["writes"] for r in runs),
                }
                print(kind, style, results[f"{kind}/{style}"], file=sys.stderr)
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
