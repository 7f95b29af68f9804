"""Benchmark of host_monitoring: detection time, threads and connections, execute overhead.

Prints one JSON document on stdout (progress goes to stderr):

* ``detection``: for each engine and setting (the defaults 30000/5000/3 and an aggressive
  1000/500/2) and each outage start (before and after the grace time), several runs of "a
  long query is running, its host freezes (SIGSTOP)": seconds from the outage to the
  application's exception, median/min/max, next to the worst case the documented rule
  predicts for that outage start. Runs of one batch use different instances of the cluster,
  so several default-settings runs (about 40 s each) proceed at once.
* ``resources``: monitor threads and monitoring connections at 1, 100 and 1,000 monitored
  connections, each with a call in flight past its grace time (1,000 spans both clusters:
  one PostgreSQL instance takes 200 connections here).
* ``overhead``: execute+fetchone of ``SELECT 1`` against the machine's own servers, median
  microseconds per call for the raw driver, sturdydb without plugins, with host_monitoring,
  and with failover,host_monitoring; client and PostgreSQL backend pinned to one core (and the
  MariaDB thread serving each connection, found through its PROCESSLIST TID); plus
  the wrapper's own cost measured on a no-op driver call.

Usage: ``python detection.py [--runs-default 2] [--runs-aggressive 5] [--engines pg,mysql]
[--skip-default] [--skip-resources] [--skip-overhead]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import mysql.connector
import psycopg

import sturdydb
from sturdydb_efm import DetectionRule, service

SETTINGS = {
    "default": {"failure_detection_time_ms": 30000, "failure_detection_interval_ms": 5000,
                "failure_detection_count": 3},
    "aggressive": {"failure_detection_time_ms": 1000, "failure_detection_interval_ms": 500,
                   "failure_detection_count": 2},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def target(engine: str) -> Callable[..., Any]:
    return psycopg.Connection.connect if engine == "pg" else mysql.connector.connect


def sleep_sql(engine: str, seconds: float) -> str:
    return f"SELECT pg_sleep({seconds})" if engine == "pg" else f"SELECT SLEEP({seconds})"


def monitored(cluster: Any, instance: Any, **props: Any) -> sturdydb.Connection:
    extra: dict[str, Any] = {"use_pure": True} if cluster.engine == "mysql" else {}
    return sturdydb.connect(target(cluster.engine), **cluster.connect_kwargs(instance), plugins="host_monitoring",
                            autocommit=True, connect_timeout=3, **extra, **props)


def rule_for(settings: dict[str, int]) -> DetectionRule:
    grace, interval, count = (settings[k] for k in ("failure_detection_time_ms", "failure_detection_interval_ms",
                                                    "failure_detection_count"))
    return DetectionRule(True, grace / 1000, interval / 1000, count, 600.0, interval / 2000)


# -- detection ------------------------------------------------------------------------------
def one_detection(cluster: Any, instance: Any, settings: dict[str, int], outage_after: float,
                  results: list[dict[str, Any]]) -> None:
    conn = monitored(cluster, instance, **settings)
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()  # the monitor exists and its connection is open, as in a running application
    outcome: dict[str, Any] = {}

    def call() -> None:
        c = conn.cursor()
        outcome["start"] = time.monotonic()
        try:
            c.execute(sleep_sql(cluster.engine, 600))
        except BaseException as exc:
            outcome["error"] = type(exc).__name__
        outcome["end"] = time.monotonic()

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    while "start" not in outcome:
        time.sleep(0.001)
    time.sleep(max(0.0, outcome["start"] + outage_after - time.monotonic()))
    cluster.freeze(instance)
    frozen = time.monotonic()
    rule = rule_for(settings)
    thread.join(rule.worst_case_from_outage(outage_after) + 30)
    cluster.thaw(instance)
    detected = outcome.get("end", float("nan")) - frozen if "end" in outcome else None
    results.append({
        "outage_after_call_start_s": round(frozen - outcome["start"], 3),
        "detected_after_outage_s": None if detected is None else round(detected, 3),
        "predicted_worst_s": round(rule.worst_case_from_outage(frozen - outcome["start"]), 3),
        "error": outcome.get("error"),
    })
    try:
        conn.close()
    except Exception:
        pass


def detection(cluster: Any, name: str, runs: int, rng: random.Random) -> dict[str, Any]:
    settings = SETTINGS[name]
    rule = rule_for(settings)
    out: dict[str, Any] = {"settings": settings, "probe_timeout_s": rule.probe_timeout,
                           "rule_worst_from_call_start_s": rule.worst_case_from_call_start(),
                           "rule_worst_after_grace_s": rule.worst_case_after_grace()}
    for case in ("before_grace", "after_grace"):
        results: list[dict[str, Any]] = []
        remaining = runs
        while remaining:
            batch = cluster.instances[:remaining]
            workers = []
            for instance in batch:
                if case == "before_grace":
                    offset = rng.uniform(0.1, 0.5) * rule.grace
                else:
                    offset = rule.grace + rng.uniform(0.05, 0.95) * rule.interval + rule.interval
                w = threading.Thread(target=one_detection, args=(cluster, instance, settings, offset, results))
                w.start()
                workers.append(w)
            for w in workers:
                w.join()
            remaining -= len(batch)
            cluster.heal()
            sturdydb.release_resources()
        times = [r["detected_after_outage_s"] for r in results if r["detected_after_outage_s"] is not None]
        margins = [r["detected_after_outage_s"] - r["predicted_worst_s"] for r in results
                   if r["detected_after_outage_s"] is not None]
        out[case] = {
            "runs": results,
            "median_s": round(statistics.median(times), 3) if times else None,
            "min_s": min(times) if times else None,
            "max_s": max(times) if times else None,
            "worst_margin_over_rule_s": round(max(margins), 3) if margins else None,
        }
        log(f"{cluster.engine} {name} {case}: {out[case]['median_s']} s median, margin {out[case]['worst_margin_over_rule_s']}")
    return out


# -- resources ------------------------------------------------------------------------------
def resources(clusters: dict[str, Any]) -> list[dict[str, Any]]:
    settings = {"failure_detection_time_ms": 500, "failure_detection_interval_ms": 1000, "failure_detection_count": 3}
    per_instance = {"pg": 180, "mysql": 280}
    rows = []
    for total in (1, 100, 1000):
        sturdydb.release_resources()
        time.sleep(0.5)
        base_threads = threading.active_count()
        slots: list[tuple[Any, Any]] = []
        for engine, cluster in clusters.items():
            for instance in cluster.instances:
                slots += [(cluster, instance)] * per_instance[engine]
        # Fill instance by instance round-robin so 100 connections use every PostgreSQL host.
        order = sorted(range(len(slots)), key=lambda i: (i % per_instance[slots[i][0].engine], i))
        chosen = [slots[i] for i in order][:total]
        conns = [(c.engine, monitored(c, inst, **settings)) for c, inst in chosen]
        calls = []
        for engine, conn in conns:
            t = threading.Thread(target=lambda e=engine, c=conn: c.cursor().execute(sleep_sql(e, 2.5)), daemon=True)
            t.start()
            calls.append(t)
        time.sleep(1.5)
        stats = service.stats()
        efm_threads = [t.name for t in threading.enumerate() if t.name.startswith("sturdydb-efm-")]
        for t in calls:
            t.join(60)
        rows.append({
            "monitored_connections": total,
            "hosts": len(stats["hosts"]),
            "monitor_threads": len(efm_threads),
            "monitoring_connections": stats["monitoring_connections"],
            "other_new_threads": max(0, threading.active_count() - base_threads - len(calls) - len(efm_threads)),
        })
        log(f"resources at {total}: {rows[-1]}")
        for _, conn in conns:
            conn.close()
    return rows


# -- overhead -------------------------------------------------------------------------------
PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"
MYSQL: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test", "use_pure": True}


def _pin_pg_backend(raw: Any) -> None:
    pid = raw.execute("SELECT pg_backend_pid()").fetchone()[0]
    subprocess.run(["taskset", "-p", "-c", "0", str(pid)], capture_output=True, check=False)


def _pin_mysql_thread(conn: Any) -> bool:
    """Pin the MariaDB thread serving ``conn`` to core 0 (MariaDB 10.5+ shows its OS thread id)."""
    cur = conn.cursor(buffered=True)
    try:
        cur.execute("SELECT TID FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()")
        row = cur.fetchone()
    except Exception:
        return False  # MySQL has no TID column
    finally:
        cur.close()
    if not row or not row[0]:
        return False
    try:
        os.sched_setaffinity(int(row[0]), {0})
    except OSError:
        return False
    return True


def overhead(rounds: int = 15, n: int = 3000) -> dict[str, Any]:
    os.sched_setaffinity(0, {0})
    out: dict[str, Any] = {}
    pinned_mysql = False
    for engine in ("pg", "mysql"):
        variants: dict[str, Any] = {}
        if engine == "pg":
            raw = psycopg.connect(PG, autocommit=True)
            _pin_pg_backend(raw)
            variants["raw_driver"] = raw
            for label, plugins in (("core_no_plugins", ""), ("host_monitoring", "host_monitoring"),
                                   ("failover_host_monitoring", "failover,host_monitoring")):
                conn = sturdydb.connect(psycopg.Connection.connect, PG, plugins=plugins, autocommit=True,
                                        wrapper_dialect="pg")
                _pin_pg_backend(conn.target_connection)
                variants[label] = conn
        else:
            variants["raw_driver"] = mysql.connector.connect(**MYSQL, autocommit=True)
            for label, plugins in (("core_no_plugins", ""), ("host_monitoring", "host_monitoring"),
                                   ("failover_host_monitoring", "failover,host_monitoring")):
                variants[label] = sturdydb.connect(mysql.connector.connect, plugins=plugins, autocommit=True,
                                                   wrapper_dialect="mysql", **MYSQL)
            # Pin every connection's thread (no short-circuit), then report whether all worked.
            pins = [_pin_mysql_thread(getattr(v, "target_connection", v)) for v in variants.values()]
            pinned_mysql = all(pins)
        cursors = {k: v.cursor() for k, v in variants.items()}
        samples: dict[str, list[float]] = {k: [] for k in cursors}
        for _ in range(rounds):
            for label, cur in cursors.items():
                for _ in range(200):
                    cur.execute("SELECT 1")
                    cur.fetchone()
                began = time.perf_counter_ns()
                for _ in range(n):
                    cur.execute("SELECT 1")
                    cur.fetchone()
                samples[label].append((time.perf_counter_ns() - began) / n / 1000)
        medians = {k: round(statistics.median(v), 2) for k, v in samples.items()}
        out[engine] = {
            "median_us_per_execute_fetchone": medians,
            "host_monitoring_minus_core_us": round(medians["host_monitoring"] - medians["core_no_plugins"], 2),
            "failover_host_monitoring_over_raw": round(medians["failover_host_monitoring"] / medians["raw_driver"], 3),
            "pinned": engine == "pg" or pinned_mysql,
        }
        log(f"overhead {engine}: {out[engine]}")
        for v in variants.values():
            v.close()
    out["wrapper_only_ns_per_call"] = _wrapper_only()
    return out


def _wrapper_only(n: int = 200_000) -> dict[str, float]:
    """The host_monitoring execute wrapper around a no-op instead of the network."""
    from sturdydb import Call

    conn = sturdydb.connect(psycopg.Connection.connect, PG, plugins="host_monitoring", autocommit=True)
    ctx = conn.context
    chain = ctx.chain("Cursor.execute")
    assert chain is not None

    def noop(*args: Any) -> None:
        return None

    def plain() -> float:
        began = time.perf_counter_ns()
        for _ in range(n):
            noop("SELECT 1", None)
        return (time.perf_counter_ns() - began) / n

    def chained() -> float:
        began = time.perf_counter_ns()
        for _ in range(n):
            chain(Call(ctx, "Cursor.execute", None, noop, ("SELECT 1", None), {}))
        return (time.perf_counter_ns() - began) / n

    plain_ns = min(plain() for _ in range(5))
    chained_ns = min(chained() for _ in range(5))
    conn.close()
    return {"direct_call_ns": round(plain_ns), "through_host_monitoring_ns": round(chained_ns),
            "added_ns": round(chained_ns - plain_ns)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-default", type=int, default=2)
    parser.add_argument("--runs-aggressive", type=int, default=5)
    parser.add_argument("--engines", default="pg,mysql")
    parser.add_argument("--skip-default", action="store_true")
    parser.add_argument("--skip-detection", action="store_true")
    parser.add_argument("--skip-resources", action="store_true")
    parser.add_argument("--skip-overhead", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {"benchmark": "sturdydb-efm detection"}
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    clusters: dict[str, Any] = {}
    if not (args.skip_detection and args.skip_resources):
        from sturdydb_testing import MariaDBCluster, PostgresCluster

        for engine in engines:
            cls = PostgresCluster if engine == "pg" else MariaDBCluster
            clusters[engine] = cls(replicas=2).start()
    try:
        if not args.skip_detection:
            rng = random.Random(5)
            report["detection"] = {}
            for engine, cluster in clusters.items():
                entry = report["detection"][engine] = {}
                entry["aggressive"] = detection(cluster, "aggressive", args.runs_aggressive, rng)
                if not args.skip_default:
                    entry["default"] = detection(cluster, "default", args.runs_default, rng)
        if not args.skip_resources:
            report["resources"] = resources(clusters)
    finally:
        sturdydb.release_resources()
        for cluster in clusters.values():
            cluster.stop()
    if not args.skip_overhead:
        report["overhead"] = overhead()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
