"""Application downtime through a real failover, sturdydb vs the raw driver; prints JSON.

For each engine a local Aurora-like cluster (``sturdydb-testing``) is started once. Each run
kills the writer; the cluster promotes a replica ``--promote-delay`` seconds later, and its
cluster endpoint follows only ``--dns-delay`` seconds after the promotion (stale DNS). An
application thread writes in a tight loop through the cluster endpoint the whole time, in one
of three styles:

- ``sturdydb_keep``: sturdydb with failover; keeps its connection and re-runs the statement
  after ``FailoverSuccessError``;
- ``sturdydb_reconnect``: sturdydb with failover; on any error closes the connection and
  connects again through the cluster endpoint;
- ``sturdydb_reconnect_ip`` and ``sturdydb_reconnect_custom_name``: as ``sturdydb_reconnect``,
  but the endpoint is reached as an IP address (the cluster endpoint's address) or through the
  application's own name (``db.internal.test``, pinned to that address): endpoints of any name,
  which sturdydb learns from the first connection and routes by the topology afterwards;
- ``raw_reconnect``: the raw driver; on any error connects again through the cluster endpoint.

With ``--async`` the application is an asyncio task instead of a thread (same episode, same
probe, same figures), in two styles:

- ``sturdydb_async_keep``: ``sturdydb.connect_async`` (psycopg ``AsyncConnection`` /
  ``mysql.connector.aio``) with failover and host_monitoring; keeps its connection and
  re-runs the statement after ``FailoverSuccessError``;
- ``sturdydb_async_reconnect``: the same connection settings; on any error closes the
  connection and connects again through the cluster endpoint (what a pool that invalidates
  the connection does, e.g. SQLAlchemy's async engine after an unknown outcome);
- ``raw_async_reconnect``: the raw async driver; on any error connects again through the
  cluster endpoint;
- ``reference_async_keep`` (only requested by name, with the reference installed: see
  ``_async_failover_vs_reference.py``): the reference wrapper's ``AsyncAwsWrapperConnection``
  over psycopg ``AsyncConnection`` / aiomysql with its default plugins; keeps its connection
  and re-runs the statement after its ``FailoverSuccessError``;
  ``reference_async_keep_fast_efm`` likewise with its host monitoring set to the values of
  sturdydb's ``aurora-fast`` profile (1000 ms grace, 2 probes 500 ms apart).

Measured per run, to the first successful write on the new writer: from the kill
(``downtime_s``), from the moment the promoted replica really accepts writes as seen by a
direct 1 ms probe (``after_accepting_writes_s``: the target is a median under 0.1 s), and from
the cluster's ``promote`` event (``after_promote_event_s``, recorded a little later).

Run: ``.venv/bin/python packages/plugin-failover/benchmarks/failover_downtime.py --runs 5``; add
``--drivers psycopg,psycopg2,mysql-connector-python,pymysql`` for every driver (default: each
engine's default driver, psycopg and mysql-connector), or ``--async`` for the async styles;
``--steady S`` puts the kill S seconds after the application's first write (default 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import logging
import random
import statistics
import sys
import threading
import time
from typing import Any

import sturdydb
from sturdydb_testing import Cluster, MariaDBCluster, PostgresCluster
from sturdydb_testing.drivers import DEFAULT_DRIVERS, DRIVERS, Driver

STYLES = ("sturdydb_keep", "sturdydb_reconnect", "sturdydb_reconnect_ip",
          "sturdydb_reconnect_custom_name", "raw_reconnect")
ASYNC_STYLES = ("sturdydb_async_keep", "sturdydb_async_reconnect", "raw_async_reconnect")
#: The reference wrapper's async connection (``aws_advanced_python_wrapper.aio``), only when it
#: is installed (``nox -s bench_reference_async``; no sturdydb package depends on it).
REFERENCE_STYLES = ("reference_async_keep", "reference_async_keep_fast_efm")
#: The reference's host monitoring set to sturdydb's ``aurora-fast`` profile values.
FAST_EFM = {"failure_detection_time_ms": 1000, "failure_detection_interval_ms": 500, "failure_detection_count": 2}
#: The application's own DNS name for the cluster endpoint (``sturdydb_reconnect_custom_name``).
CUSTOM_NAME = "db.internal.test"


#: The driver each engine's runs go through right now (``main`` switches it per ``--drivers``).
_DRIVER: dict[str, Driver] = dict(DEFAULT_DRIVERS)


def _target(cluster: Cluster) -> Any:
    return _DRIVER[cluster.engine].connect


def _extra(cluster: Cluster) -> dict[str, Any]:
    return dict(_DRIVER[cluster.engine].options)


def _raw_connect(cluster: Cluster, **kwargs: Any) -> Any:
    """The raw driver's connection, ``autocommit`` included (psycopg2 takes no such keyword:
    it is an attribute there)."""
    if _DRIVER[cluster.engine].name != "psycopg2":
        return _target(cluster)(**kwargs)
    autocommit = kwargs.pop("autocommit", False)
    conn = _target(cluster)(**kwargs)
    conn.autocommit = autocommit
    return conn


def _open(cluster: Cluster, style: str) -> Any:
    if style == "raw_reconnect":
        kwargs = {**cluster.address_kwargs("cluster"), **_extra(cluster), "autocommit": True}
        # mysql-connector spells its connect timeout differently from the three others.
        mysql_connector = _DRIVER[cluster.engine].name == "mysql-connector-python"
        kwargs["connection_timeout" if mysql_connector else "connect_timeout"] = 2
        return _raw_connect(cluster, **kwargs)
    if style in ("sturdydb_reconnect_ip", "sturdydb_reconnect_custom_name"):
        host = cluster.cluster_endpoint.address if style.endswith("_ip") else CUSTOM_NAME
        sturdydb.map_host(CUSTOM_NAME, cluster.cluster_endpoint.address)
        kwargs = {**cluster.connect_kwargs("cluster"), "host": host}
        # Neither name says where the instances are: the reference requires this for them too.
        return sturdydb.connect(_target(cluster), **kwargs, autocommit=True,
                                plugins="aurora_connection_tracker,failover", connect_timeout=2,
                                cluster_instance_host_pattern=cluster.instance_host_pattern,
                                **_extra(cluster))
    return sturdydb.connect(_target(cluster), cluster.conninfo("cluster"), autocommit=True,
                            plugins="aurora_connection_tracker,failover", connect_timeout=2, **_extra(cluster))


class Writer(threading.Thread):
    """Writes rows in a loop in one application style; remembers when writes succeeded."""

    def __init__(self, cluster: Cluster, style: str, table: str) -> None:
        super().__init__(name=f"bench-{style}", daemon=True)
        self.cluster = cluster
        self.style = style
        self.table = table
        self.stop = threading.Event()
        #: (started, finished) of every successful write. A write counts for the downtime only
        #: if it *started* after the kill: one that began on the old writer just before the
        #: kill can return just after it, and is not a write on the new writer.
        self.successes: list[tuple[float, float]] = []
        self.errors = 0
        #: (when, exception class name, message start) of every error the application saw.
        self.error_log: list[tuple[float, str, str]] = []
        self.conn: Any = None

    def run(self) -> None:
        i = 0
        cur: Any = None
        while not self.stop.is_set():
            try:
                if self.conn is None:
                    self.conn = _open(self.cluster, self.style)
                    cur = self.conn.cursor()
                i += 1
                started = time.monotonic()
                cur.execute(f"INSERT INTO {self.table} (id) VALUES (%s)", (i,))
                self.successes.append((started, time.monotonic()))
            except sturdydb.FailoverError:
                self.errors += 1
                if self.style != "sturdydb_keep":
                    self._drop()
            except Exception:
                self.errors += 1
                self._drop()
                time.sleep(0.001)  # what a typical retry loop does; no busy spin
        self._drop()

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None


def _async_target(cluster: Cluster) -> Any:
    if cluster.engine == "pg":
        import psycopg

        return psycopg.AsyncConnection.connect
    import mysql.connector.aio

    return mysql.connector.aio.connect


async def _open_reference_async(cluster: Cluster, style: str) -> Any:
    """The reference wrapper's async connection, configured as its documentation says for Aurora."""
    from aws_advanced_python_wrapper.aio import AsyncAwsWrapperConnection  # type: ignore[import-not-found]

    options: dict[str, Any] = {
        "plugins": "initial_connection,aurora_connection_tracker,failover,host_monitoring_v2",  # its default list
        "cluster_instance_host_pattern": cluster.instance_host_pattern,
        "autocommit": True, "connect_timeout": 2,
        **(FAST_EFM if style.endswith("_fast_efm") else {}),
    }
    if cluster.engine == "pg":
        import psycopg

        return await AsyncAwsWrapperConnection.connect(psycopg.AsyncConnection.connect, cluster.conninfo("cluster"),
                                                       wrapper_dialect="aurora-pg", **options)
    import aiomysql  # type: ignore[import-not-found]  # only in the reference's benchmark session

    kw = cluster.connect_kwargs("cluster")
    return await AsyncAwsWrapperConnection.connect(aiomysql.connect, "", host=kw["host"], port=kw["port"],
                                                   user=kw["user"], password=kw["password"], db=kw["database"],
                                                   wrapper_dialect="aurora-mysql", **options)


def _failover_errors(style: str) -> tuple[type[BaseException], ...]:
    """The errors after which a failover style's connection is on the new writer (or gave up)."""
    if style.startswith("reference_"):
        from aws_advanced_python_wrapper.errors import FailoverError  # type: ignore[import-not-found]

        return (FailoverError,)
    return (sturdydb.FailoverError,)


async def _open_async(cluster: Cluster, style: str) -> Any:
    if style in REFERENCE_STYLES:
        return await _open_reference_async(cluster, style)
    extra = {"ssl_disabled": True} if cluster.engine == "mysql" else {}
    if style == "raw_async_reconnect":
        kwargs = {**cluster.address_kwargs("cluster"), **extra, "autocommit": True}
        kwargs["connection_timeout" if cluster.engine == "mysql" else "connect_timeout"] = 2
        return await _async_target(cluster)(**kwargs)
    return await sturdydb.connect_async(_async_target(cluster), cluster.conninfo("cluster"), autocommit=True,
                                        plugins="aurora_connection_tracker,failover,host_monitoring",
                                        connect_timeout=2, **extra)


class AsyncWriter(Writer):
    """:class:`Writer` as an asyncio task: a thread runs an event loop that writes in a loop."""

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        failover_errors = _failover_errors(self.style)
        keeps = self.style.endswith("_keep") or "_keep_" in self.style
        i = 0
        conn: Any = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = await _open_async(self.cluster, self.style)
                cur = conn.cursor()
                if inspect.isawaitable(cur):  # mysql.connector.aio's cursor() is a coroutine
                    cur = await cur
                i += 1
                started = time.monotonic()
                await cur.execute(f"INSERT INTO {self.table} (id) VALUES (%s)", (i,))
                self.successes.append((started, time.monotonic()))
            except failover_errors as exc:
                self.errors += 1
                self.error_log.append((time.monotonic(), type(exc).__name__, str(exc)[:80]))
                if not keeps:  # keep: the connection is on the new writer
                    await self._drop_async(conn)
                    conn = None
            except Exception as exc:
                self.errors += 1
                self.error_log.append((time.monotonic(), type(exc).__name__, str(exc)[:80]))
                await self._drop_async(conn)
                conn = None
                await asyncio.sleep(0.001)  # what a typical retry loop does; no busy spin
        await self._drop_async(conn)
        if self.style in REFERENCE_STYLES:
            # Its monitors are tasks of this loop, which ends now: stop them, and forget its
            # process-wide topology as sturdydb's is forgotten before each run.
            from aws_advanced_python_wrapper.aio import release_resources_async

            await release_resources_async()

    @staticmethod
    async def _drop_async(conn: Any) -> None:
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                pass


class AcceptanceProbe(threading.Thread):
    """Ground truth: polls the replica that will be promoted, directly, every millisecond.

    The cluster records its ``promote`` event only after its own promotion bookkeeping, a few
    tens of milliseconds after the replica really accepts writes, so the target is measured
    from the moment this probe first sees the replica writable.
    """

    def __init__(self, cluster: Cluster, target: Any) -> None:
        super().__init__(name="bench-acceptance-probe", daemon=True)
        self.cluster = cluster
        self.target = target
        self.stop = threading.Event()
        self.accepting_at: float | None = None

    def run(self) -> None:
        kwargs = {**self.cluster.address_kwargs(self.target), **_extra(self.cluster), "autocommit": True}
        conn = _raw_connect(self.cluster, **kwargs)
        sql = "SELECT NOT pg_catalog.pg_is_in_recovery()" if self.cluster.engine == "pg" else "SELECT @@global.read_only = 0"
        cur = conn.cursor()
        try:
            while not self.stop.is_set():
                cur.execute(sql)
                (writable,) = cur.fetchone()
                if writable:
                    self.accepting_at = time.monotonic()
                    return
                time.sleep(0.001)
        finally:
            conn.close()


#: Seconds between the application's first write and the kill (``--steady``).
STEADY_S = [1.0]


def one_run(cluster: Cluster, style: str) -> dict[str, Any]:
    cluster.heal()
    sturdydb.reset_process_state()  # release, and forget every topology
    setup = _open(cluster, "sturdydb_keep")
    table = f"bench_{int(time.time() * 1000) % 10**9}"
    setup.cursor().execute(f"CREATE TABLE {table} (id INT)")
    setup.close()
    writer = (AsyncWriter if style in ASYNC_STYLES + REFERENCE_STYLES else Writer)(cluster, style, table)
    writer.start()
    # Steady state (monitor verified the writer, connection warm): the kill comes 1 s after
    # the application's first write, never during its first connect (slow on a loaded machine,
    # which would make a "keep" style measure a reconnect).
    ready_by = time.monotonic() + 60
    while not writer.successes and time.monotonic() < ready_by:
        time.sleep(0.01)
    time.sleep(STEADY_S[0])
    target = cluster.readers[0]
    probe = AcceptanceProbe(cluster, target)
    probe.start()
    # A random extra promotion delay, so the promotion does not fall at the same phase of the
    # monitor's probe cycle in every run.
    cluster.failover(target=target, old_writer="kill", promote_delay=cluster.promote_delay + random.uniform(0, 0.1))
    kill = cluster.event_log.last("kill")
    promote = cluster.event_log.last("promote")
    if kill is None or promote is None:
        raise RuntimeError("the failover left no kill/promote events")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after = [done for started, done in writer.successes if started > kill.monotonic]
        if after:
            break
        time.sleep(0.01)
    writer.stop.set()
    writer.join(10)
    probe.stop.set()
    probe.join(10)
    first = next((done for started, done in writer.successes if started > kill.monotonic), None)
    if first is None:
        raise RuntimeError(f"{style}: no successful write within 60 s of the kill")
    if probe.accepting_at is None:
        raise RuntimeError("the acceptance probe never saw the promoted replica writable")
    result: dict[str, Any] = {
        "downtime_s": first - kill.monotonic,
        "after_accepting_writes_s": first - probe.accepting_at,
        "after_promote_event_s": first - promote.monotonic,
    }
    if style in REFERENCE_STYLES or style in ASYNC_STYLES:
        # What the application saw and when, in seconds from the moment the replica accepted
        # writes (negative: before), for reading where each style's time went.
        result["errors_seen"] = "; ".join(f"{kind} at {at - probe.accepting_at:+.3f} s ({message})"
                                          for at, kind, message in writer.error_log) or "none"
    return result


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run_styles(cluster: Cluster, styles: list[str], runs_per_style: int) -> dict[str, Any]:
    """Every style's runs on ``cluster`` and their summaries (also used by multi_az_failover.py)."""
    per_style: dict[str, Any] = {}
    for style in styles:
        runs = [one_run(cluster, style) for _ in range(runs_per_style)]
        per_style[style] = {
            "runs": runs,
            "after_accepting_writes_s": summary([r["after_accepting_writes_s"] for r in runs]),
            "after_promote_event_s": summary([r["after_promote_event_s"] for r in runs]),
            "downtime_s": summary([r["downtime_s"] for r in runs]),
        }
        print(f"{cluster.engine} {style}: {per_style[style]['after_accepting_writes_s']}", file=sys.stderr)
    return per_style


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="pg,mysql")
    parser.add_argument("--styles", default="", help=f"default: {','.join(STYLES)} ({','.join(ASYNC_STYLES)} with --async)")
    parser.add_argument("--async", dest="use_async", action="store_true",
                        help="the application is an asyncio task (sturdydb.connect_async, raw async driver)")
    parser.add_argument("--dns-delay", type=float, default=5.0)
    parser.add_argument("--promote-delay", type=float, default=1.0)
    parser.add_argument("--steady", type=float, default=1.0,
                        help="seconds between the application's first write and the kill")
    parser.add_argument("--drivers", default="",
                        help="comma-separated driver names (psycopg, psycopg2, mysql-connector-python, "
                             "pymysql); default: each engine's default driver")
    args = parser.parse_args(argv)
    STEADY_S[0] = args.steady
    wanted = [d for d in args.drivers.split(",") if d]
    unknown = set(wanted) - {d.name for d in DRIVERS}
    if unknown:
        parser.error(f"unknown drivers {sorted(unknown)}; use {[d.name for d in DRIVERS]}")
    styles = args.styles or ",".join(ASYNC_STYLES if args.use_async else STYLES)
    unknown_styles = set(styles.split(",")) - set(STYLES + ASYNC_STYLES + REFERENCE_STYLES)
    if unknown_styles:
        parser.error(f"unknown styles {sorted(unknown_styles)}")
    # The reference resolves the cluster's Aurora-shaped names itself (its drivers call
    # socket.getaddrinfo): answer them with the emulated DNS in this process when it runs.
    reference = any(style in REFERENCE_STYLES for style in styles.split(","))
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, Any] = {
        "benchmark": "async_failover_downtime" if args.use_async else "failover_downtime",
        "settings": {"runs": args.runs, "dns_delay_s": args.dns_delay, "promote_delay_s": args.promote_delay,
                     "steady_s": args.steady,
                     "target": "after_accepting_writes_s median < 0.1 for every sturdydb style"},
        "engines": {},
    }
    for engine in args.engines.split(","):
        cls = PostgresCluster if engine == "pg" else MariaDBCluster
        drivers = [d for d in DRIVERS if d.engine == engine and d.name in wanted] or [DEFAULT_DRIVERS[engine]]
        with contextlib.ExitStack() as stack:
            cluster = stack.enter_context(cls(replicas=2, dns_delay=args.dns_delay, promote_delay=args.promote_delay,
                                              name=f"bench-{engine}"))
            if reference:
                stack.enter_context(cluster.resolved_in_process())
            for driver in drivers:
                _DRIVER[engine] = driver
                per_style = run_styles(cluster, styles.split(","), args.runs)
                # One driver per engine keeps the established layout; several are keyed by name.
                key = engine if len(drivers) == 1 else f"{engine} ({driver.name})"
                results["engines"][key] = per_style
    sturdydb.release_resources()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
