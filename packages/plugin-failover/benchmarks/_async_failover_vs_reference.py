"""Side by side: an asyncio task's write pause through a writer kill, sturdydb vs the reference
wrapper's async connection (``aws-advanced-python-wrapper``'s ``aio``); prints JSON.

The episode, probe and figures are ``failover_downtime.py --async``'s (kill the writer, promote
a replica about 1 s later, the cluster endpoint's DNS follows ``--dns-delay`` s after that), one
style after the other, each run in a fresh process on a fresh cluster (both wrappers keep
process-wide state, and the reference's cannot be reset within one process): ``sturdydb_async_keep`` (``connect_async``,
failover + host_monitoring + aurora_connection_tracker), ``reference_async_keep`` (the
reference's ``AsyncAwsWrapperConnection`` with its default plugin list) and
``reference_async_keep_fast_efm`` (the same with its host monitoring set to sturdydb's
``aurora-fast`` values), each keeping its connection after a failover error. PostgreSQL goes
through psycopg's ``AsyncConnection`` on both sides; for MariaDB the reference supports only
aiomysql, so its MariaDB runs go through aiomysql while sturdydb's go through
``mysql.connector.aio``.

The reference resolves host names itself: the benchmark answers the cluster's Aurora-shaped
names in this process with the emulated DNS (``Cluster.resolved_in_process``).

Not part of ``nox -s bench`` (its name starts with ``_``): the reference (and aiomysql) are
installed only in this benchmark's own session, never as a dependency of any sturdydb package:
``nox -s bench_reference_async`` (options after ``--``: ``--runs 3 --engines pg``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from failover_downtime import REFERENCE_STYLES, main, summary

STYLES = ("sturdydb_async_keep", *REFERENCE_STYLES)


def _child(argv: list[str]) -> None:
    """One run of one style on a fresh cluster, in this (fresh) process; prints its JSON."""
    code = main(["--async", "--runs", "1", *argv])
    sys.stdout.flush()
    # The reference may leave non-daemon threads behind (its executors), which would keep the
    # interpreter from exiting: the result is out, end the process.
    os._exit(code)


def run() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="pg,mysql")
    parser.add_argument("--styles", default=",".join(STYLES))
    parser.add_argument("--dns-delay", default="5.0")
    parser.add_argument("--steady", default="1.0", help="seconds between the first write and the kill")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "title": "Async failover downtime: sturdydb's connect_async vs the reference's async connection",
        "command": "nox -s bench_reference_async",
        "settings": {"runs": args.runs, "dns_delay_s": float(args.dns_delay), "steady_s": float(args.steady),
                     "process": "a fresh process and cluster per run and style"},
        "engines": {},
    }
    for engine in args.engines.split(","):
        per_style: dict[str, Any] = {}
        for i in range(args.runs):
            for style in args.styles.split(","):
                # A process per run: both wrappers keep process-wide state (topologies,
                # monitors), and the reference's cannot be reset within one process.
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", "--engines", engine, "--styles", style,
                     "--dns-delay", args.dns_delay, "--steady", args.steady],
                    capture_output=True, text=True, timeout=900, check=False)
                try:
                    found = json.loads(proc.stdout)["engines"][engine][style]["runs"][0]
                except (ValueError, KeyError, IndexError):
                    found = {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"}
                per_style.setdefault(style, {"runs": []})["runs"].append(found)
                print(f"{engine} {style} run {i + 1}: {found.get('after_accepting_writes_s', found)}", file=sys.stderr)
        for entry in per_style.values():
            done = [r for r in entry["runs"] if "error" not in r]
            for key in ("after_accepting_writes_s", "downtime_s"):
                if done:
                    entry[key] = summary([r[key] for r in done])
        results["engines"][engine] = per_style
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2:])
    raise SystemExit(run())
