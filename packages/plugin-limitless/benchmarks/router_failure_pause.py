"""The application's write pause when its Aurora Limitless transaction router dies; prints JSON.

Each run starts an emulated Limitless shard group (``sturdydb_testing.LimitlessCluster``: one
real PostgreSQL server behind ``--routers`` transaction routers, each on its own loopback
address). For each style in turn, one application thread writes unique keys in a tight
autocommit loop through the shard group endpoint; after ``--warmup`` seconds the router its
connection is on is killed (it refuses new connections and its connections are reset; it stays
listed by ``aurora_limitless_router_endpoints()``, as a failed router does until Aurora replaces
it). Styles:

- ``sturdydb_limitless``: sturdydb with ``plugins="limitless"``. An open connection never moves
  to another router (docs/limitless.md), so on an error the application closes it and opens a
  new one, as the docs say; the plugin picks a router from its list by load and skips one that
  refuses the connection;
- ``raw_reconnect``: the raw driver through the shard group endpoint; on an error it closes,
  and connects again through the endpoint. The emulated endpoint stops handing out a killed
  router at once (no DNS delay): the best case for the raw driver.

Both styles treat a write cut off by the error as of unknown outcome: after reconnecting they
look its key up and write it again only if absent, so an in-flight write is neither lost nor
applied twice. The script exits non-zero if any acknowledged write is missing or any key is
present twice.

Measured per style and run: ``pause_s``, the longest time without an acknowledged write;
``after_kill_s``, from the kill (the router's connections reset) to the first acknowledged
write after it; ``acknowledged``;
``lost`` (acknowledged, absent afterwards); ``duplicates`` (keys present more than once);
``in_doubt`` (writes cut off by the error, looked up after reconnecting); ``errors``.

Run: ``.nox/integration/bin/python packages/plugin-limitless/benchmarks/router_failure_pause.py --runs 3``
"""

from __future__ import annotations

import argparse
import contextlib
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
from sturdydb_testing import LimitlessCluster

STYLES = ("sturdydb_limitless", "raw_reconnect")


def _raw(cluster: LimitlessCluster) -> Any:
    """The raw driver through the shard group endpoint's address (what its DNS answers)."""
    proxy = cluster.shard_group_proxy
    assert proxy is not None
    assert cluster.writer is not None
    kwargs = {**cluster.address_kwargs(cluster.writer), "host": proxy.address, "port": proxy.port}
    return psycopg.Connection.connect(**kwargs, autocommit=True, connect_timeout=2)


def _direct(cluster: LimitlessCluster, sql: str) -> list[Any]:
    """A query on the server itself, past every router."""
    assert cluster.writer is not None
    with psycopg.Connection.connect(**cluster.address_kwargs(cluster.writer), autocommit=True) as conn:
        cur = conn.execute(sql)
        return list(cur.fetchall()) if cur.description else []


def _present(conn: Any, table: str, key: str) -> bool:
    cur = conn.cursor()
    cur.execute(f"SELECT count(*) FROM {table} WHERE k = %s", (key,))
    rows = cur.fetchall()
    cur.close()
    return bool(rows and rows[0][0])


def _close_quietly(conn: Any) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()


class _Writer:
    """One application thread: unique keys, one autocommit INSERT each, reconnect on error."""

    def __init__(self, style: str, cluster: LimitlessCluster, table: str) -> None:
        self.style = style
        self.cluster = cluster
        self.table = table
        self.acks: list[tuple[str, float]] = []
        self.errors: list[str] = []
        self.in_doubt = 0
        self.hosts: list[str] = []  # the router address of each connection (sturdydb only)
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"bench-{style}", daemon=True)

    def _connect(self) -> Any:
        if self.style == "raw_reconnect":
            conn = _raw(self.cluster)
        else:
            conn = sturdydb.connect(psycopg.Connection.connect, plugins="limitless", autocommit=True,
                                    connect_timeout=2, **self.cluster.connect_kwargs())
            self.hosts.append(conn.host.host)
        self.connected.set()
        return conn

    def _run(self) -> None:
        sql = f"INSERT INTO {self.table} (k) VALUES (%s)"
        conn: Any = None
        while not self.stop.is_set():
            key = f"{self.style}-{uuid.uuid4().hex}"
            maybe = False
            while not self.stop.is_set():
                try:
                    if conn is None:
                        conn = self._connect()
                    if maybe and _present(conn, self.table, key):
                        self.acks.append((key, time.monotonic()))  # it was applied: known now
                        break
                    cur = conn.cursor()
                    cur.execute(sql, (key,))
                    cur.close()
                    self.acks.append((key, time.monotonic()))
                    break
                except Exception as exc:
                    self.errors.append(type(exc).__name__)
                    if not maybe:
                        self.in_doubt += 1
                    maybe = True  # the write may have been applied before the error
                    _close_quietly(conn)
                    conn = None
                    time.sleep(0.01)
        _close_quietly(conn)


def _router_in_use(cluster: LimitlessCluster, writer: _Writer, before: dict[str, int]) -> Any:
    if writer.hosts:
        return cluster.router(writer.hosts[-1])
    # The raw driver: the one router that accepted a connection since the writer started
    # (nothing else connects through a router in this style).
    grown = [r for r in cluster.routers if r.proxy.accepted > before[r.name]]
    if len(grown) != 1:
        raise RuntimeError(f"cannot tell the raw connection's router: {grown}")
    return grown[0]


def _one_style(cluster: LimitlessCluster, style: str, warmup: float, after: float) -> dict[str, Any]:
    sturdydb.release_resources()
    sturdydb.reset_process_state()  # each style as a new application process
    table = f"lim_bench_{uuid.uuid4().hex[:8]}"
    _direct(cluster, f"CREATE TABLE {table} (n bigserial PRIMARY KEY, k text NOT NULL)")
    writer = _Writer(style, cluster, table)
    before = {r.name: r.proxy.accepted for r in cluster.routers}
    writer.thread.start()
    if not writer.connected.wait(30):
        raise RuntimeError(f"{style}: no first connection")
    time.sleep(warmup)
    router = _router_in_use(cluster, writer, before)
    cluster.kill_router(router)
    killed_at = time.monotonic()  # its connections are reset: any later write is on a new one
    time.sleep(after)
    writer.stop.set()
    writer.thread.join(30)
    landed = [cluster.router(h).name for h in writer.hosts[1:]] if writer.hosts else []
    cluster.revive_router(router)
    counts = dict(_direct(cluster, f"SELECT k, count(*) FROM {table} GROUP BY k"))
    stamps = sorted(at for _, at in writer.acks)
    later = [at for at in stamps if at > killed_at]
    return {
        "pause_s": round(max((b - a for a, b in itertools.pairwise(stamps)), default=0.0), 3),
        "after_kill_s": round(later[0] - killed_at, 3) if later else None,
        "acknowledged": len(writer.acks),
        "lost": sum(1 for key, _ in writer.acks if key not in counts),
        "duplicates": sum(1 for n in counts.values() if n > 1),
        "in_doubt": writer.in_doubt,
        "errors": len(writer.errors),
        "error_kinds": sorted(set(writer.errors)),
        "killed": router.name,
        "reconnected_to": sorted(set(landed)),
    }


#: Per-run counts that the summary adds up over the runs.
COUNTS = ("acknowledged", "lost", "duplicates", "in_doubt", "errors")


def _summarize(per: list[dict[str, Any]]) -> dict[str, Any]:
    pauses = [p["pause_s"] for p in per]
    firsts = [p["after_kill_s"] for p in per if p["after_kill_s"] is not None]
    return {"pause_s_median": statistics.median(pauses), "pause_s_max": max(pauses),
            "after_kill_s_median": statistics.median(firsts) if firsts else None,
            **{count: sum(p[count] for p in per) for count in COUNTS}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--routers", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds of writes before the kill")
    parser.add_argument("--after", type=float, default=2.0, help="seconds of writes after the kill")
    parser.add_argument("--quick", action="store_true", help="one run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    runs = 1 if args.quick else args.runs
    results: list[dict[str, Any]] = []
    for _ in range(runs):
        cluster = LimitlessCluster(routers=args.routers)
        with cluster:
            results.append({style: _one_style(cluster, style, args.warmup, args.after) for style in STYLES})
        sturdydb.release_resources()
    summary = {style: _summarize([r[style] for r in results]) for style in STYLES}
    report: dict[str, Any] = {
        "title": "Aurora Limitless: write pause when the application's transaction router dies",
        "benchmark": "router_failure_pause",
        "settings": {"runs": runs, "routers": args.routers, "warmup_s": args.warmup, "after_s": args.after},
        "summary": summary,
        "runs": [{"run": i + 1, "style": style, **{k: v for k, v in r[style].items() if k != "error_kinds"},
                  "error_kinds": ",".join(r[style]["error_kinds"]),
                  "reconnected_to": ",".join(r[style]["reconnected_to"])}
                 for i, r in enumerate(results) for style in STYLES],
    }
    print(json.dumps(report, indent=2))
    bad = [f"{style}: lost {s['lost']}, duplicates {s['duplicates']}" for style, s in summary.items()
           if s["lost"] or s["duplicates"]]
    no_write = [style for style, s in summary.items() if s["after_kill_s_median"] is None]
    if bad or no_write:
        print(f"FAILED: {'; '.join(bad)} {'no write after the kill: ' + ','.join(no_write) if no_write else ''}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
