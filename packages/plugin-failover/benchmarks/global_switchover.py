"""Write pause through an Aurora Global Database switchover and region failover; prints JSON.

One emulated global database (``sturdydb_testing.global_db``, PostgreSQL or with ``--engine
mysql`` MariaDB, ``rpo_zero`` so an unplanned failover loses no acknowledged commit) is started; each run moves the writer to the
other region while one application thread inserts unique ids in a tight loop through the
global writer endpoint, in one of two styles:

- ``sturdydb``: sturdydb with ``failover`` and the global properties; keeps its connection,
  re-runs a write after ``FailoverSuccessError`` and looks an unknown outcome up by its id;
- ``raw_reconnect``: the driver alone (psycopg, or pure-Python mysql-connector); on any error connects again through the global endpoint
  (which follows the new writer after ``--dns-delay``) and looks the id up before writing again.

Measured per run: ``pause_s``, the longest gap between two acknowledged writes; ``lost``,
acknowledged ids missing on the new writer afterwards; ``duplicates``, ids present twice.

Run: ``.nox/integration/bin/python packages/plugin-failover/benchmarks/global_switchover.py --runs 3
[--engine mysql]``
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

import sturdydb
from sturdydb_testing.drivers import DEFAULT_DRIVERS
from sturdydb_testing.global_db import GlobalDatabase

STYLES = ("sturdydb", "raw_reconnect")
KINDS = ("switchover", "failover")


def _raw(gdb: GlobalDatabase) -> Any:
    assert gdb.global_endpoint is not None
    kwargs = gdb.regions[gdb.writer_region].address_kwargs(gdb.writer)
    kwargs.update(host=gdb.global_endpoint.address, port=gdb.global_endpoint.port)
    driver = DEFAULT_DRIVERS[gdb.engine]
    if gdb.engine == "mysql":
        return driver.connect(**kwargs, **driver.options, autocommit=True, connection_timeout=2)
    return driver.connect(**kwargs, autocommit=True, connect_timeout=2)


def _query(conn: Any, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    # Through a cursor and read whole: the DB-API form both drivers accept.
    cur = conn.cursor()
    cur.execute(sql, params or None)
    rows = cur.fetchall() if cur.description else []
    cur.close()
    return list(rows)


def _present(conn: Any, table: str, key: str) -> bool:
    rows = _query(conn, f"SELECT count(*) FROM {table} WHERE id = %s", (key,))
    return bool(rows and rows[0][0])


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
    admin = _raw(gdb)
    _query(admin, f"CREATE TABLE {table} (id varchar(64) NOT NULL)")
    admin.close()
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
    check = _raw(gdb)
    rows = _query(check, f"SELECT id, count(*) FROM {table} GROUP BY id")
    check.close()
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
    parser.add_argument("--engine", choices=("pg", "mysql"), default="pg",
                        help="pg: PostgreSQL; mysql: MariaDB emulating Aurora MySQL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, Any] = {"title": "Aurora Global Database: write pause through a switchover and a region failover",
                               "benchmark": "global_switchover",
                               "settings": {"runs": args.runs, "dns_delay_s": args.dns_delay, "engine": args.engine}}
    with GlobalDatabase(replicas=1, dns_delay=args.dns_delay, rpo_zero=True, engine=args.engine) as gdb:
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
