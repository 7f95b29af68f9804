"""sturdydb demo: a real failover under a steady write workload, sturdydb vs the raw driver.

Starts a local three-instance Aurora-compatible cluster (``sturdydb-testing``: real
PostgreSQL or MariaDB replication on loopback addresses), runs the same workload on two sides
(several threads, each committing numbered rows), then freezes the writer and performs a real
failover: a replica is promoted, the cluster endpoint follows after its DNS delay, and the
frozen old writer is only killed (as a host reboot would) much later.

- **sturdydb** side: ``sturdydb.connect`` with ``failover`` and ``host_monitoring``; the
  application catches ``FailoverSuccessError`` / ``StatementOutcomeUnknownError`` /
  ``TransactionResolutionUnknownError`` and retries the row it was writing under the same
  primary key (its idempotency key): a row that an "unknown" outcome did apply is rejected as
  a duplicate key and counted once, so nothing is ever applied twice.
- **raw** side: the plain driver on the cluster endpoint, reconnecting on any error, which
  is what an application without sturdydb does.

Progress is shown live; at the end a summary table per side (time until writes resumed,
errors seen, rows committed, rows lost and rows duplicated after verifying every committed row
on the new writer)
and a timeline chart (PNG, writes per 100 ms with the fault and the promotion marked).
Everything started is cleaned up, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sturdydb

RESUME_GAP = 0.5  # s without a commit before a side counts as "stuck"


@dataclass
class Side:
    """One workload side: its threads' shared bookkeeping."""

    name: str
    commits: list[tuple[float, int, int]] = field(default_factory=list)  # (t, worker, seq)
    errors: list[tuple[float, str]] = field(default_factory=list)
    state: dict[int, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def committed(self, t: float, worker: int, seq: int) -> None:
        with self.lock:
            self.commits.append((t, worker, seq))
            self.state[worker] = "writing"

    def error(self, t: float, worker: int, message: str, state: str) -> None:
        with self.lock:
            self.errors.append((t, message))
            self.state[worker] = state

    def last_commit(self) -> float:
        with self.lock:
            return self.commits[-1][0] if self.commits else 0.0


def _engine_bits(engine: str) -> tuple[Any, Callable[..., Any], str, type[BaseException]]:
    if engine == "pg":
        import psycopg

        from sturdydb_testing import PostgresCluster

        return PostgresCluster, psycopg.Connection.connect, "%s", psycopg.errors.UniqueViolation
    import mysql.connector

    from sturdydb_testing import MariaDBCluster

    return MariaDBCluster, mysql.connector.connect, "%s", mysql.connector.errors.IntegrityError


def _insert_sql(engine: str) -> str:
    return "INSERT INTO demo_rows (side, worker, seq) VALUES (%s, %s, %s)"


def sturdy_worker(
    cluster: Any, target: Callable[..., Any], duplicate: type[BaseException], side: Side, worker: int,
    stop: threading.Event, t0: float, settings: dict[str, Any],
) -> None:
    """The application written with sturdydb: one connection, handles the failover errors."""
    conn = sturdydb.connect(target, cluster.conninfo("cluster"), **settings)
    cur = conn.cursor()
    seq = 0
    while not stop.is_set():
        try:
            cur.execute(_insert_sql(cluster.engine), ("sturdydb", worker, seq))
            conn.commit()
            side.committed(time.monotonic() - t0, worker, seq)
            seq += 1
        except sturdydb.StatementOutcomeUnknownError:
            # The statement may or may not have been applied (and committed): the same
            # primary key on the retry tells us, and can never apply it twice.
            side.error(time.monotonic() - t0, worker, "StatementOutcomeUnknownError", "failing over")
        except sturdydb.TransactionResolutionUnknownError:
            # The commit may or may not have happened: the primary key tells us on retry.
            side.error(time.monotonic() - t0, worker, "TransactionResolutionUnknownError", "failing over")
        except sturdydb.FailoverSuccessError:
            side.error(time.monotonic() - t0, worker, "FailoverSuccessError", "failing over")
        except duplicate:
            # The row of an "unknown" commit did land: count it once and move on.
            conn.rollback()
            side.committed(time.monotonic() - t0, worker, seq)
            seq += 1
        except sturdydb.FailoverFailedError as exc:
            side.error(time.monotonic() - t0, worker, f"FailoverFailedError: {exc}", "failed")
            time.sleep(0.2)
    conn.close()


def raw_worker(
    cluster: Any, target: Callable[..., Any], duplicate: type[BaseException], side: Side, worker: int,
    stop: threading.Event, t0: float,
) -> None:
    """The same application on the raw driver: reconnect to the cluster endpoint on any error."""
    kwargs = cluster.address_kwargs("cluster")
    timeout_key = "connect_timeout" if cluster.engine == "pg" else "connection_timeout"
    kwargs[timeout_key] = 2
    conn: Any = None
    seq = 0
    while not stop.is_set():
        try:
            if conn is None:
                side.state[worker] = "reconnecting"
                conn = target(**kwargs)
            cur = conn.cursor()
            cur.execute(_insert_sql(cluster.engine), ("raw", worker, seq))
            conn.commit()
            side.committed(time.monotonic() - t0, worker, seq)
            seq += 1
        except duplicate:
            conn.rollback()
            side.committed(time.monotonic() - t0, worker, seq)
            seq += 1
        except Exception as exc:
            side.error(time.monotonic() - t0, worker, type(exc).__name__, "reconnecting")
            try:
                if conn is not None:
                    conn.close()
            except Exception:
                pass
            conn = None
            time.sleep(0.1)
    if conn is not None:
        try:
            conn.close()
        except Exception:
            pass


def _status(side: Side, now: float, waiting_label: str) -> str:
    """One side's live state: writing, or how long it has been waiting and on what."""
    with side.lock:
        done = len(side.commits)
        last = side.commits[-1][0] if side.commits else 0.0
        states = dict(side.state)
        errors_since = [t for t, _ in side.errors if t >= last]
    if now - last <= RESUME_GAP:
        label = "writing"
    elif errors_since:
        busy = [s for s in states.values() if s != "writing"]
        label = f"{busy[0] if busy else 'retrying'} ({now - last:4.1f}s without a commit)"
    else:
        label = f"{waiting_label} ({now - last:4.1f}s without a commit)"
    return f"{side.name:>8}: {done:6d} rows  {label:<40}"


def _resume_time(side: Side, fault_at: float) -> float | None:
    """Seconds from the fault to the first commit after the longest post-fault gap."""
    with side.lock:
        times = [t for t, _, _ in side.commits if t >= fault_at]
    if not times:
        return None
    gaps = [(b - a, b) for a, b in zip([fault_at, *times], times, strict=False)]
    longest, resumed_at = max(gaps)
    return resumed_at - fault_at if longest > RESUME_GAP else 0.0


def _verify(cluster: Any, target: Callable[..., Any], side: Side) -> tuple[int, int, int]:
    """(committed, present, duplicated) for the side, read on the current writer.

    Duplicated counts rows stored more than once (the table's primary key, the rows'
    idempotency key, forbids that) and rows the application acknowledged twice.
    """
    conn = target(**cluster.address_kwargs(cluster.writer))
    try:
        cur = conn.cursor()
        cur.execute("SELECT worker, seq, count(*) FROM demo_rows WHERE side = %s GROUP BY worker, seq",
                    (side.name,))
        rows = cur.fetchall()
    finally:
        conn.close()
    present = {(int(w), int(s)) for w, s, _ in rows}
    stored_twice = sum(int(n) - 1 for _, _, n in rows)
    committed = {(w, s) for _, w, s in side.commits}
    lost = committed - present
    return len(committed), len(committed) - len(lost), stored_twice + len(side.commits) - len(committed)


def _chart(path: Path, sides: list[Side], fault_at: float, promoted_at: float | None, killed_at: float | None,
           end: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=110)
    buckets = int(end / 0.1) + 1
    for side, color in zip(sides, ("tab:green", "tab:red"), strict=False):
        counts = [0] * buckets
        for t, _, _ in side.commits:
            index = int(t / 0.1)
            if 0 <= index < buckets:
                counts[index] += 1
        ax.plot([i * 0.1 for i in range(buckets)], counts, label=side.name, color=color, linewidth=1.2)
    ax.axvline(fault_at, color="black", linestyle="--", label="writer frozen")
    if promoted_at is not None:
        ax.axvline(promoted_at, color="tab:blue", linestyle=":", label="replica promoted")
    if killed_at is not None:
        ax.axvline(killed_at, color="tab:gray", linestyle="-.", label="frozen host rebooted")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("commits per 100 ms")
    ax.set_title("sturdydb demo: writes through a failover")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("pg", "mysql"), default="pg")
    parser.add_argument("--fault", choices=("freeze", "kill", "blackhole"), default="freeze",
                        help="what happens to the writer (default: freeze, the hardest case)")
    parser.add_argument("--threads", type=int, default=4, help="writer threads per side")
    parser.add_argument("--before", type=float, default=3.0, help="seconds of steady writes before the fault")
    parser.add_argument("--after", type=float, default=12.0, help="seconds to keep writing after the fault")
    parser.add_argument("--promote-delay", type=float, default=1.0)
    parser.add_argument("--dns-delay", type=float, default=5.0)
    parser.add_argument("--reboot-after", type=float, default=8.0,
                        help="seconds after the fault until the frozen host is killed (as a reboot would)")
    parser.add_argument("--detection", default="1000/500/2",
                        help="host monitoring grace/interval/count in ms (default 1000/500/2)")
    parser.add_argument("--output", default="demo-output", help="folder for the chart")
    args = parser.parse_args(argv)
    grace, interval, count = (int(x) for x in args.detection.split("/"))

    cluster_cls, target, _, duplicate = _engine_bits(args.engine)
    settings: dict[str, Any] = {"plugins": "failover", "failover_timeout_sec": 60, "connect_timeout": 2}
    from sturdydb import catalog

    if "host_monitoring" in catalog().entries:
        settings.update(plugins="failover,host_monitoring", failure_detection_time_ms=grace,
                        failure_detection_interval_ms=interval, failure_detection_count=count)
        waiting = ["detecting", "stuck"]
    else:  # without sturdydb-efm the frozen host is noticed through socket_timeout
        settings["socket_timeout"] = 2
        waiting = ["waiting (socket_timeout)", "stuck"]
    logging.basicConfig(format="           sturdydb log: %(message)s")
    logging.getLogger("sturdydb").setLevel(logging.INFO)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    interrupted = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        interrupted.set()
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    print(f"starting a 3-instance {args.engine} cluster (real replication on loopback addresses)...", flush=True)
    with cluster_cls(replicas=2, dns_delay=args.dns_delay, promote_delay=args.promote_delay) as cluster:
        admin = target(**cluster.address_kwargs(cluster.writer))
        cur = admin.cursor()
        cur.execute("CREATE TABLE demo_rows (side VARCHAR(16), worker INT, seq INT, PRIMARY KEY (side, worker, seq))")
        admin.commit()
        admin.close()
        print(f"cluster endpoint {cluster.cluster_host} -> writer {cluster.writer.name}", flush=True)
        print(f"sturdydb settings: {settings}", flush=True)
        sides = [Side("sturdydb"), Side("raw")]
        t0 = time.monotonic()
        threads: list[threading.Thread] = []
        for worker in range(args.threads):
            threads.append(threading.Thread(
                target=sturdy_worker, name=f"demo-sturdydb-{worker}", daemon=True,
                args=(cluster, target, duplicate, sides[0], worker, stop, t0, settings)))
            threads.append(threading.Thread(
                target=raw_worker, name=f"demo-raw-{worker}", daemon=True,
                args=(cluster, target, duplicate, sides[1], worker, stop, t0)))
        for thread in threads:
            thread.start()

        def show(until: float) -> None:
            while not stop.is_set() and time.monotonic() - t0 < until:
                now = time.monotonic() - t0
                print(f"[{now:5.1f}s] " + " | ".join(_status(s, now, w) for s, w in zip(sides, waiting, strict=True)),
                      flush=True)
                time.sleep(0.5)

        show(args.before)
        fault_at = promoted_at = killed_at = None
        if not stop.is_set():
            old = cluster.writer
            fault_at = time.monotonic() - t0
            print(f"*** {args.fault} the writer {old.name}; promoting a replica in {args.promote_delay}s", flush=True)
            old_writer_mode = {"freeze": "freeze", "kill": "kill", "blackhole": "freeze"}[args.fault]
            if args.fault == "blackhole":
                cluster.blackhole(old)
            future = cluster.failover_in_background(promote_delay=args.promote_delay, old_writer=old_writer_mode)
            rebooted = False
            while not stop.is_set() and time.monotonic() - t0 < fault_at + args.after:
                now = time.monotonic() - t0
                if promoted_at is None and future.done():
                    new = future.result()
                    promoted_at = time.monotonic() - t0
                    print(f"*** {new.name} promoted; the cluster endpoint follows in {args.dns_delay}s", flush=True)
                if not rebooted and args.fault != "kill" and now >= fault_at + args.reboot_after:
                    cluster.kill(old)
                    killed_at = time.monotonic() - t0
                    rebooted = True
                    print(f"*** the frozen host {old.name} is rebooted (killed)", flush=True)
                print(f"[{now:5.1f}s] " + " | ".join(_status(s, now, w) for s, w in zip(sides, waiting, strict=True)),
                      flush=True)
                time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        end = time.monotonic() - t0
        if interrupted.is_set():
            print("interrupted: cleaning up", flush=True)
            return 130
        assert fault_at is not None
        # The promotion time is the event's own timestamp, not when the demo noticed it.
        promote_events = [e for e in cluster.events if e.kind in ("promote", "promoted")]
        if promote_events:
            promoted_at = promote_events[-1].monotonic - t0

        print()
        print(f"{'side':<10} {'writes resumed after':>21} {'errors seen':>12} {'rows committed':>15} "
              f"{'rows lost':>10} {'rows duplicated':>16}")
        lost_sturdy = 0
        dupes_sturdy = 0
        for side in sides:
            resumed = _resume_time(side, fault_at)
            committed, present, dupes = _verify(cluster, target, side)
            lost = committed - present
            if side.name == "sturdydb":
                lost_sturdy = lost
                dupes_sturdy = dupes
            resumed_text = "never" if resumed is None else f"{resumed:.2f} s"
            print(f"{side.name:<10} {resumed_text:>21} {len(side.errors):>12} {committed:>15} {lost:>10} {dupes:>16}")
        chart = out_dir / f"timeline-{args.engine}-{args.fault}.png"
        _chart(chart, sides, fault_at, promoted_at, killed_at, end)
        print(f"\ntimeline chart: {chart}")
        print("every committed row was checked on the new writer"
              + (" - sturdydb lost none" if lost_sturdy == 0 else f" - sturdydb LOST {lost_sturdy}")
              + (" and applied none twice." if dupes_sturdy == 0 else f" and applied {dupes_sturdy} TWICE!"))
    sturdydb.release_resources()
    return 0 if lost_sturdy == 0 and dupes_sturdy == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
