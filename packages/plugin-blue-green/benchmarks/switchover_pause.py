"""The application's write pause and lost writes through a Blue/Green switchover; prints JSON.

For each engine a local Blue/Green deployment (``sturdydb-testing``) is started per run and
switched over once, while two application threads write in a tight loop in autocommit, each
with its own unique key per write, through blue's cluster endpoint:

- ``sturdydb_bg``: sturdydb with the ``bg`` plugin; keeps its connection; runs a write again
  (same key) only after ``FailoverSuccessError`` ("not applied"), never after an outcome-unknown
  error;
- ``raw_reconnect``: the raw driver through the endpoint's address (what DNS says); on any
  error it closes, waits 50 ms, reconnects and runs the same write again (what an application
  without the plugin does). Old blue refuses its writes until DNS follows, ``--dns-delay``
  seconds after the switchover completed.

Measured per style and run: ``pause_s``, the longest time without an acknowledged write;
``first_green_write_s``, from the moment blue's writes were blocked to the first acknowledged
write on green; ``acknowledged``; ``lost`` (acknowledged, missing on green); ``duplicates``
(keys present more than once on green); ``wrong_node`` (rows written on old blue after its
writes were blocked); ``errors`` (errors the application saw). The switchover itself is
reported as ``in_progress_s`` (from "in progress" to "post-processing": what no client can
avoid waiting for).

Run: ``.venv/bin/python packages/plugin-blue-green/benchmarks/switchover_pause.py --runs 3``
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
from sturdydb import FailoverSuccessError, TransactionResolutionUnknownError
from sturdydb_testing import BlueGreenDeployment, Cluster, MariaDBCluster, PostgresCluster

STYLES = ("sturdydb_bg", "raw_reconnect")
TABLE = "bg_bench"


def _driver(cluster: Cluster) -> Any:
    if cluster.engine == "pg":
        import psycopg

        return psycopg.Connection.connect
    import mysql.connector

    return mysql.connector.connect


def _extra(cluster: Cluster) -> dict[str, Any]:
    return {"use_pure": True} if cluster.engine == "mysql" else {}


def _raw(cluster: Cluster, where: Any) -> Any:
    kwargs = {**cluster.address_kwargs(where), **_extra(cluster), "autocommit": True}
    if cluster.engine == "pg":
        return _driver(cluster)(**kwargs, connect_timeout=2)
    return _driver(cluster)(**kwargs, connection_timeout=2)


def _query(cluster: Cluster, where: Any, sql: str) -> list[Any]:
    conn = _raw(cluster, where)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        rows = list(cur.fetchall()) if cur.description else []
        cur.close()
        return rows
    finally:
        conn.close()


def _insert_sql(cluster: Cluster) -> str:
    if cluster.engine == "pg":
        return f"INSERT INTO {TABLE} (k) VALUES (%s)"
    return f"INSERT INTO {TABLE} (k, server, written_at) VALUES (%s, @@server_id, UNIX_TIMESTAMP(NOW(6)))"


def _create_table(dep: BlueGreenDeployment) -> None:
    blue = dep.blue
    if blue.engine == "pg":
        sql = (f"CREATE TABLE {TABLE} (n bigserial PRIMARY KEY, k text NOT NULL, "
               "server text NOT NULL DEFAULT pg_catalog.inet_server_addr()::text, "
               "written_at double precision NOT NULL DEFAULT extract(epoch FROM clock_timestamp()))")
    else:
        sql = (f"CREATE TABLE {TABLE} (n BIGINT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(64) NOT NULL, "
               "server VARCHAR(64) NOT NULL, written_at DOUBLE NOT NULL)")
    _query(blue, blue.writer, sql)
    assert dep.green is not None
    assert blue.writer is not None
    assert dep.green.writer is not None
    dep.green._wait_replicated(blue.writer, [dep.green.writer], 30)


class _Writer:
    def __init__(self, style: str, dep: BlueGreenDeployment) -> None:
        self.style = style
        self.dep = dep
        self.acks: list[tuple[str, float]] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"bench-{style}", daemon=True)

    def _connect(self) -> Any:
        blue = self.dep.blue
        if self.style == "raw_reconnect":
            return _raw(blue, "cluster")
        return sturdydb.connect(_driver(blue), **blue.connect_kwargs("cluster"), **_extra(blue),
                                autocommit=True, connect_timeout=2, plugins="bg")

    def _run(self) -> None:
        sql = _insert_sql(self.dep.blue)
        conn: Any = None
        key = f"{self.style}-{uuid.uuid4().hex}"
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = self._connect()
                cur = conn.cursor()
                cur.execute(sql, (key,))
            except FailoverSuccessError as exc:  # not applied: the same write again
                self.errors.append(type(exc).__name__)
                continue
            except TransactionResolutionUnknownError as exc:  # maybe applied: never again
                self.errors.append(type(exc).__name__)
            except Exception as exc:
                self.errors.append(type(exc).__name__)
                if self.style == "raw_reconnect":
                    if conn is not None:
                        try:
                            conn.close()
                        except Exception:
                            pass
                    conn = None
                    time.sleep(0.05)
                    continue  # the raw application retries the same write
                time.sleep(0.05)
            else:
                self.acks.append((key, time.time()))
            key = f"{self.style}-{uuid.uuid4().hex}"
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass


def _one_run(engine: type[PostgresCluster] | type[MariaDBCluster], dns_delay: float) -> dict[str, Any]:
    with BlueGreenDeployment(engine, replicas=0, dns_delay=dns_delay) as dep:
        _create_table(dep)
        writers = [_Writer(style, dep) for style in STYLES]
        for writer in writers:
            writer.thread.start()
        time.sleep(2.0)  # the monitor has read the status; both write steadily
        times = dep.switchover()
        time.sleep(dns_delay + 2.0)  # past DNS, so the raw application recovers too
        for writer in writers:
            writer.stop.set()
            writer.thread.join(30)
        blue, green = dep.blue, dep.green
        assert green is not None
        rows = _query(green, green.writer, f"SELECT k, server, written_at FROM {TABLE}")
        blue_server = str(_query(blue, blue.writer, "SELECT pg_catalog.inet_server_addr()::text"
                                 if blue.engine == "pg" else "SELECT @@server_id")[0][0])
        blocked = times["blue_writes_blocked"]
        counts: dict[str, int] = {}
        green_times: dict[str, float] = {}
        for key, server, at in rows:
            counts[key] = counts.get(key, 0) + 1
            if str(server) != blue_server:
                green_times[key] = float(at)
        result: dict[str, Any] = {"in_progress_s": round(times["phase_post"] - times["phase_in_progress"], 3)}
        for writer in writers:
            stamps = sorted(at for _, at in writer.acks)
            gaps = [b - a for a, b in itertools.pairwise(stamps)]
            on_green = [at for key, at in writer.acks if key in green_times]
            mine = [key for key in counts if key.startswith(writer.style)]
            result[writer.style] = {
                "pause_s": round(max(gaps, default=0.0), 3),
                "first_green_write_s": round(min(on_green) - blocked, 3) if on_green else None,
                "acknowledged": len(writer.acks),
                "lost": sum(1 for key, _ in writer.acks if key not in counts),
                "duplicates": sum(1 for key in mine if counts[key] > 1),
                "wrong_node": sum(1 for key, server, at in rows
                                  if key.startswith(writer.style) and str(server) == blue_server
                                  and float(at) > blocked),
                "errors": len(writer.errors),
                "error_kinds": sorted(set(writer.errors)),
            }
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dns-delay", type=float, default=5.0)
    parser.add_argument("--engines", default="pg,mysql")
    parser.add_argument("--quick", action="store_true", help="one run per engine")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    runs = 1 if args.quick else args.runs
    report: dict[str, Any] = {"benchmark": "switchover_pause",
                              "settings": {"runs": runs, "dns_delay_s": args.dns_delay,
                                           "preparation_s": 1.0, "block_delay_s": 0.5, "post_s": 0.5},
                              "engines": {}}
    engines: dict[str, type[PostgresCluster] | type[MariaDBCluster]] = {"pg": PostgresCluster, "mysql": MariaDBCluster}
    for name in args.engines.split(","):
        results = []
        for _ in range(runs):
            results.append(_one_run(engines[name], args.dns_delay))
            sturdydb.reset_process_state()  # each run as a new application process
        summary: dict[str, Any] = {"in_progress_s_median": statistics.median(r["in_progress_s"] for r in results)}
        for style in STYLES:
            per = [r[style] for r in results]
            firsts = [p["first_green_write_s"] for p in per if p["first_green_write_s"] is not None]
            summary[style] = {
                "pause_s_median": statistics.median(p["pause_s"] for p in per),
                "pause_s_max": max(p["pause_s"] for p in per),
                "first_green_write_s_median": statistics.median(firsts) if firsts else None,
                "acknowledged": sum(p["acknowledged"] for p in per),
                "lost": sum(p["lost"] for p in per),
                "duplicates": sum(p["duplicates"] for p in per),
                "wrong_node": sum(p["wrong_node"] for p in per),
                "errors": sum(p["errors"] for p in per),
                "error_kinds": sorted({k for p in per for k in p["error_kinds"]}),
            }
        report["engines"][name] = {"summary": summary, "runs": results}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
