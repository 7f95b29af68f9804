"""Write pause of an asyncio application through a real failover, sturdydb vs the raw async driver.

The episode, probe and figures of ``failover_downtime.py`` (this script is its ``--async``
mode, so ``nox -s bench`` runs it as its own entry): an asyncio task writes in a loop through
``sturdydb.connect_async`` with failover and host_monitoring (``sturdydb_async_keep``) or
through the raw async driver, reconnecting on any error (``raw_async_reconnect``), while the
writer is killed and a replica promoted. ``after_accepting_writes_s`` counts from the moment
the promoted replica really accepts writes (target: median under 0.1 s, as in sync).

Run: ``.nox/integration/bin/python packages/plugin-failover/benchmarks/async_failover_downtime.py --runs 5``
"""

from __future__ import annotations

import sys

from failover_downtime import main

if __name__ == "__main__":
    raise SystemExit(main(["--async", *sys.argv[1:]]))
