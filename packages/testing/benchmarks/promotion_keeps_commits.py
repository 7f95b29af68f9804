"""Does a failover of the emulated cluster keep every commit the old writer acknowledged?

Aurora's shared storage never loses an acknowledged commit, and sturdydb's tests count lost
rows against that promise, so the emulation must keep it too. Each round: four threads commit
single-row transactions as fast as they can through the writer; the writer is frozen (or
killed) mid-stream and a replica promoted; every row whose commit returned must be on the new
writer. ``--no-replay`` (MariaDB) turns off the promotion's binlog replay to show the gap it
closes. Exit status 1 when a round lost a row.

    python packages/testing/benchmarks/promotion_keeps_commits.py --engine mysql --rounds 25
"""

from __future__ import annotations

import argparse
import logging
import random
import threading
import time
from typing import Any

from sturdydb_testing.cluster import Cluster
from sturdydb_testing.mariadb import MariaDBCluster
from sturdydb_testing.postgres import PostgresCluster


def _connect(cluster: Cluster, instance: Any) -> Any:
    if cluster.engine == "pg":
        import psycopg

        return psycopg.connect(**cluster.address_kwargs(instance), connect_timeout=5)
    import mysql.connector

    return mysql.connector.connect(**cluster.address_kwargs(instance), connection_timeout=5, use_pure=True)


def _round(cluster: Cluster, number: int, fate: str) -> tuple[str, int, int]:
    acked: list[tuple[int, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def work(worker: int) -> None:
        try:
            conn = _connect(cluster, cluster.writer)
            cursor = conn.cursor()
            seq = 0
            while not stop.is_set():
                cursor.execute("INSERT INTO kept VALUES (%s, %s, %s)", (number, worker, seq))
                conn.commit()
                with lock:
                    acked.append((worker, seq))
                seq += 1
        except Exception:  # the writer went away mid-commit: that row was never acknowledged
            pass

    threads = [threading.Thread(target=work, args=(w,), name=f"kept-{w}", daemon=True) for w in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(random.uniform(0.3, 0.8))
    future = cluster.failover_in_background(old_writer=fate, promote_delay=0.5)  # type: ignore[arg-type]
    new = future.result(120)
    stop.set()
    with lock:
        snapshot = set(acked)
    conn = _connect(cluster, new)
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT worker, seq FROM kept WHERE round = %s", (number,))
        present = {(int(w), int(s)) for w, s in cursor.fetchall()}
    finally:
        conn.close()
    for thread in threads:
        thread.join(10)
    cluster.heal()
    return new.name, len(snapshot), len(snapshot - present)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["pg", "mysql"], default="mysql")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--old-writer", choices=["freeze", "kill"], default="freeze")
    parser.add_argument("--no-replay", action="store_true", help="MariaDB: promote without the binlog replay")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    if args.no_replay:
        MariaDBCluster.replays_lost_writer = False
    cls = MariaDBCluster if args.engine == "mysql" else PostgresCluster
    lost_total = 0
    with cls(replicas=2, dns_delay=0, promote_delay=0) as cluster:
        conn = _connect(cluster, cluster.writer)
        conn.cursor().execute("CREATE TABLE kept (round INT, worker INT, seq INT, PRIMARY KEY (round, worker, seq))")
        conn.commit()
        conn.close()
        for number in range(args.rounds):
            new, acknowledged, lost = _round(cluster, number, args.old_writer)
            lost_total += lost
            print(f"round {number:>2}: promoted {new}, {acknowledged} commits acknowledged, {lost} lost", flush=True)
    print(f"{args.rounds} failovers ({args.old_writer}), {args.engine}: {lost_total} acknowledged commits lost")
    return 1 if lost_total else 0


if __name__ == "__main__":
    raise SystemExit(main())
