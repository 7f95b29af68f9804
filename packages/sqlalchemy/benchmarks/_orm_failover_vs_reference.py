"""Side by side: the same 8-thread ORM episode through a writer kill with sturdydb's SQLAlchemy
dialect and with the reference wrapper's own (``aws-advanced-python-wrapper``); prints JSON.

The episode is the integration test's (``tests/integration/orm_workload.py``): SQLAlchemy
Session units of work of two rows each on 8 threads of one engine on the cluster endpoint of a
local cluster (``sturdydb_testing``): PostgreSQL through psycopg 3 (``postgresql+sturdydb`` vs
the reference's ``postgresql+aws_wrapper_psycopg``) and MariaDB emulating Aurora MySQL through
mysql-connector in its pure-Python mode (``mysql+sturdydb`` vs the reference's
``mysql+aws_wrapper_mysqlconnector``, with ``wrapper_dialect=aurora-mysql``). The writer is cut
off, killed and a replica promoted; an application that gets an error moves on to its next
unit of work. Per dialect: median and max seconds from the promotion to each worker's next
committed unit of work (and from each worker's last error to it: what the application itself
waits for), the errors the application saw, and the check that every unit whose
commit returned is on the new writer exactly once (lost, duplicated, half-applied, on a wrong
node). On MySQL the reference runs without ``host_monitoring``, which it refuses there.

The reference resolves host names itself (psycopg resolves them with ``socket.getaddrinfo``,
and so does mysql-connector),
while the emulation's Aurora-shaped names exist only inside sturdydb (``map_host``): this
process therefore answers those names with the emulated DNS (``Cluster.resolved_in_process``:
the cluster endpoint's address follows the writer after the cluster's DNS delay, as Aurora's
does). Nothing else differs.

Not part of ``nox -s bench`` (its name starts with ``_``): the reference is installed only in
this benchmark's own session, never as a dependency of any sturdydb package:
``nox -s bench_reference`` (options after ``--``: ``--runs 3``, ``--engine pg|mysql|all``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))

from orm_workload import (  # type: ignore[import-not-found]  # the integration tests' folder, put on sys.path above
    PLUGINS,
    new_unit_table,
    resume_delays,
    run_workload,
    start_failover,
    verify,
)

import sturdydb
from sturdydb_testing import Cluster, MariaDBCluster, PostgresCluster

#: Each side's SQLAlchemy dialect per engine: psycopg 3 and mysql-connector on both sides.
SCHEMES = {
    ("pg", "sturdydb"): "postgresql+sturdydb", ("pg", "reference"): "postgresql+aws_wrapper_psycopg",
    ("mysql", "sturdydb"): "mysql+sturdydb", ("mysql", "reference"): "mysql+aws_wrapper_mysqlconnector",
}
#: The reference refuses host monitoring on MySQL (its mysql-connector driver dialect cannot
#: abort a connection, so both of its monitoring plugins raise at construction): there it runs
#: without it, which is its own default for mysql-connector.
REFERENCE_MYSQL_PLUGINS = "aurora_connection_tracker,failover"


def _engine(cluster: Cluster, dialect: str) -> sa.Engine:
    kw = cluster.connect_kwargs()
    scheme = SCHEMES[(cluster.engine, dialect)]
    url = sa.URL.create(scheme, username=kw["user"], password=kw["password"], host=kw["host"],
                        port=kw["port"], database=cluster.dbname)
    # mysql-connector in its pure-Python mode on both sides, as the integration tests run it.
    driver: dict[str, Any] = {"use_pure": True} if cluster.engine == "mysql" else {}
    if dialect == "sturdydb":
        args: dict[str, Any] = {"plugins": PLUGINS, "failover_timeout_sec": 60, "connect_timeout": 3,
                                "socket_timeout": 2, **driver}
    else:  # the reference's documented Aurora setup, same plugins (but see above) and timeouts
        args = {"plugins": PLUGINS if cluster.engine == "pg" else REFERENCE_MYSQL_PLUGINS,
                "wrapper_dialect": "aurora-pg" if cluster.engine == "pg" else "aurora-mysql",
                "failover_timeout_sec": 60, "connect_timeout": 3, "socket_timeout": 2,
                "cluster_instance_host_pattern": cluster.instance_host_pattern, **driver}
    return sa.create_engine(url, connect_args=args, pool_size=8, max_overflow=4)


def episode(cluster: Cluster, dialect: str) -> dict[str, Any]:
    sturdydb.reset_process_state()
    engine = _engine(cluster, dialect)
    try:
        model = new_unit_table(engine)
        old = cluster.writer
        assert old is not None
        logs, new, promoted_at = run_workload(engine, model, cluster, threads=8,
                                              fault=lambda: start_failover(cluster, "kill"),
                                              after_failover=10, timeout=90)
        result: dict[str, Any] = {"engine": cluster.engine, "dialect": dialect,
                                  "committed": sum(len(x.committed) for x in logs.values())}
        try:
            verify(cluster, engine, model, logs, old.name, new.name)
            result["lost_or_duplicated"] = 0
        except AssertionError as exc:
            result["lost_or_duplicated"] = f"FAILED: {exc}"
        delays = resume_delays(logs, promoted_at)
        result["workers_with_errors"] = sum(1 for x in logs.values() if x.errors)
        result["median_resume_s"] = round(statistics.median(delays), 3) if delays else None
        result["max_resume_s"] = round(max(delays), 3) if delays else None
        # What the application waits for after its error (the rest is detection and failover).
        after_error = [x.resumed_at - x.errors[-1][1] for x in logs.values() if x.errors and x.resumed_at]
        result["median_error_to_resume_s"] = round(statistics.median(after_error), 3) if after_error else None
        kinds: dict[str, int] = {}
        for x in logs.values():
            for _, _, orig, _ in x.errors:
                kinds[type(orig).__name__] = kinds.get(type(orig).__name__, 0) + 1
        result["errors_seen"] = ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items()))
        return result
    except Exception as exc:  # the episode itself could not run: say exactly why
        return {"engine": cluster.engine, "dialect": dialect,
                "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
    finally:
        engine.dispose()


def _one_episode(engine: str, dialect: str) -> int:
    """One episode on a fresh cluster, in this (fresh) process; prints its result as JSON."""
    cluster_cls = PostgresCluster if engine == "pg" else MariaDBCluster
    with cluster_cls(replicas=2, dns_delay=2.0, promote_delay=0.5) as cluster, cluster.resolved_in_process():
        result = episode(cluster, dialect)
    print(json.dumps(result), flush=True)
    # The reference leaves non-daemon threads behind (its monitors), which would keep the
    # interpreter from exiting: the result is out, end the process.
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="episodes per dialect (a fresh cluster each)")
    parser.add_argument("--engine", choices=["pg", "mysql", "all"], default="all",
                        help="PostgreSQL (psycopg), MariaDB (mysql-connector) or both")
    parser.add_argument("--episode", choices=["sturdydb", "reference"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.episode:
        return _one_episode(args.engine, args.episode)
    runs: list[dict[str, Any]] = []
    for engine in (["pg", "mysql"] if args.engine == "all" else [args.engine]):
        for _ in range(args.runs):
            for dialect in ("sturdydb", "reference"):
                # A process per episode: both wrappers keep process-wide topology caches, and
                # the next episode's cluster is a new one.
                proc = subprocess.run([sys.executable, __file__, "--engine", engine, "--episode", dialect],
                                      capture_output=True, text=True, timeout=600, check=False)
                lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
                runs.append(json.loads(lines[-1]) if lines else
                            {"engine": engine, "dialect": dialect,
                             "error": f"exit {proc.returncode}: {proc.stderr[-300:]}"})
    print(json.dumps({"title": "SQLAlchemy ORM through a writer kill: sturdydb vs the reference's dialect (PostgreSQL, MariaDB)",
                      "command": "nox -s bench_reference", "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
