"""Write pause through an RDS Multi-AZ DB cluster failover, sturdydb vs the raw driver; prints JSON.

The same measurement as ``failover_downtime.py`` (whose run it reuses), on clusters that
emulate an RDS Multi-AZ DB cluster (``kind="multi-az"``: ``rds_tools`` on PostgreSQL,
``mysql.rds_topology`` on MariaDB) instead of Aurora. Each run kills the writer, promotes a
standby ``--promote-delay`` seconds later, and the cluster endpoint follows ``--dns-delay``
seconds after that. Styles:

- ``sturdydb_keep``: sturdydb with failover keeps its connection and writes on;
- ``sturdydb_reconnect``: sturdydb with failover, reconnecting through the cluster endpoint on
  any error;
- ``raw_reconnect``: the raw driver reconnecting through the cluster endpoint on any error.

``after_accepting_writes_s`` is the write pause counted from the moment the promoted standby
really accepts writes (a direct 1 ms probe); ``downtime_s`` counts from the kill.

Run: ``.nox/integration/bin/python packages/plugin-failover/benchmarks/multi_az_failover.py --runs 5``
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from failover_downtime import run_styles

import sturdydb
from sturdydb_testing import MariaDBCluster, PostgresCluster

STYLES = ("sturdydb_keep", "sturdydb_reconnect", "raw_reconnect")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="pg,mysql")
    parser.add_argument("--styles", default=",".join(STYLES))
    parser.add_argument("--dns-delay", type=float, default=5.0)
    parser.add_argument("--promote-delay", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="2 runs per style")
    args = parser.parse_args(argv)
    runs_per_style = 2 if args.quick else args.runs
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, Any] = {
        "benchmark": "multi_az_failover",
        "settings": {"runs": runs_per_style, "dns_delay_s": args.dns_delay, "promote_delay_s": args.promote_delay,
                     "cluster": "RDS Multi-AZ DB cluster emulation (writer + 2 readable standbys)"},
        "engines": {},
    }
    for engine in args.engines.split(","):
        cls = PostgresCluster if engine == "pg" else MariaDBCluster
        with cls(replicas=2, kind="multi-az", dns_delay=args.dns_delay, promote_delay=args.promote_delay,
                 name=f"bench-maz-{engine}") as cluster:
            results["engines"][engine] = run_styles(cluster, args.styles.split(","), runs_per_style)
    sturdydb.release_resources()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
