"""Fault soak: many threads of real work through sturdydb while a harness breaks the cluster.

For each engine (PostgreSQL, MariaDB) a 3-instance cluster of ``sturdydb_testing`` is started;
``--threads`` workers (default twenty) run mixed reads, autocommit writes and explicit
transactions through ``sturdydb.connect(..., plugins="failover,host_monitoring")`` on the
cluster endpoint with short timeouts, while a fault injector randomly kills, freezes,
blackholes, slows, resets and fails over instances and heals them again. At the end a checker
reads the final writer (after a heal and with replication caught up) and proves, or refutes:

- every acknowledged write is present exactly once, and no key is present twice;
- a write the application was told was *not applied* (08S02, ``FailoverSuccessError``) is
  absent unless a later retry of the same key was acknowledged: the worker re-runs the same
  key after every 08S02, so a false "not applied" shows up as a duplicate;
- a write whose outcome was reported unknown (08007: ``TransactionResolutionUnknownError`` or
  its subclass ``StatementOutcomeUnknownError``) is present at most once (reported, not
  retried); keys of transactions that were rolled back or never reached COMMIT are absent;
- no write was applied on a wrong node: each row records, in the same statement, the server
  that executed it and whether that server was a replica; it must never be a replica and it
  must be the instance the harness had made writer at that time (from the fault log);
- every error the application saw is a documented one (classified by class name and
  ``sqlstate``, so this checker works before and after new subclasses appear);
- no thread or socket outlives ``sturdydb.release_resources()`` and the workers stop promptly.

The script prints one JSON document (``benchmarks/run_all.py`` renders it into BENCHMARKS.md)
and exits 1 when a check fails. ``--publish`` also replaces the soak section of BENCHMARKS.md.
Run it with ``nox -s soak`` (``-- --duration 600`` for a long soak).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sturdydb

ROOT = Path(__file__).resolve().parent.parent
TITLE = "Fault soak (failover + host_monitoring under random faults)"

# ---------------------------------------------------------------------------- errors
#: Documented application-visible outcomes, by the ``sqlstate`` they carry.
NOT_APPLIED = "not_applied"  # 08S02: the interrupted call cannot have been applied
UNKNOWN = "unknown"  # 08007: a transaction or a possibly-writing statement; outcome unknown
FAILED = "failover_failed"  # 08001: no usable host within failover_timeout_sec
TIMEOUT = "timeout"  # QueryTimeoutError
UNDOCUMENTED = "undocumented"

DOCUMENTED_NAMES = {
    "FailoverSuccessError": ("08S02", NOT_APPLIED),
    "StatementOutcomeUnknownError": ("08007", UNKNOWN),
    "TransactionResolutionUnknownError": ("08007", UNKNOWN),
    "FailoverFailedError": ("08001", FAILED),
}


def classify(exc: BaseException) -> tuple[str, str]:
    """(outcome, label) of an application-visible error.

    By class names along the MRO and ``sqlstate`` rather than by ``isinstance`` of classes
    that may not exist yet (``StatementOutcomeUnknownError`` is newer than this checker).
    Every documented failover outcome is a sturdydb ``OperationalError``; anything else, such
    as a bare driver ``OperationalError``, is undocumented.
    """
    names = [getattr(klass, "__name__", "") for klass in type(exc).__mro__]
    label = type(exc).__name__
    if not isinstance(exc, sturdydb.OperationalError):
        return UNDOCUMENTED, f"{type(exc).__module__}.{label}"
    sqlstate = getattr(exc, "sqlstate", None)
    for name, (state, outcome) in DOCUMENTED_NAMES.items():
        if name in names:
            if sqlstate != state:
                return UNDOCUMENTED, f"{label} with sqlstate {sqlstate!r} (documented {state})"
            return outcome, label
    if "QueryTimeoutError" in names:
        return TIMEOUT, label
    return UNDOCUMENTED, f"{type(exc).__module__}.{label}"


# ---------------------------------------------------------------------------- engines
@dataclass
class Engine:
    name: str
    cluster_cls: Any
    target: Callable[..., Any]
    extra: dict[str, Any]
    ddl: list[str]
    insert: str
    count: str = "SELECT count(*) FROM soak_writes WHERE k = %s"


def _engine(name: str) -> Engine:
    common_cols = "k VARCHAR(36) NOT NULL, worker INT NOT NULL, op VARCHAR(8) NOT NULL, server VARCHAR(64) NOT NULL"
    if name == "pg":
        import psycopg

        from sturdydb_testing import PostgresCluster

        return Engine(
            "pg", PostgresCluster, psycopg.Connection.connect, {},
            # No unique constraint on k, on purpose: a duplicate must be countable.
            [f"CREATE TABLE soak_writes ({common_cols}, on_replica BOOLEAN NOT NULL, at DOUBLE PRECISION NOT NULL)",
             "CREATE INDEX soak_writes_k ON soak_writes (k)"],
            # The server reports who executed the write and whether it was a replica, in the
            # same statement as the write itself.
            "INSERT INTO soak_writes (k, worker, op, server, on_replica, at) SELECT %s, %s, %s,"
            " pg_catalog.aurora_db_instance_identifier(), pg_catalog.pg_is_in_recovery(),"
            " extract(epoch FROM clock_timestamp())",
        )
    import mysql.connector

    from sturdydb_testing import MariaDBCluster

    return Engine(
        "mysql", MariaDBCluster, mysql.connector.connect, {"use_pure": True},
        [f"CREATE TABLE soak_writes ({common_cols}, on_replica BOOLEAN NOT NULL, at DOUBLE NOT NULL,"
         " INDEX soak_writes_k (k)) ENGINE=InnoDB"],
        # Row-based binlog: the values are computed once, on the server that ran the INSERT.
        "INSERT INTO soak_writes (k, worker, op, server, on_replica, at) SELECT %s, %s, %s,"
        " @@global.report_host, @@global.read_only <> 0, UNIX_TIMESTAMP(NOW(6))",
    )


# ---------------------------------------------------------------------------- bookkeeping
@dataclass
class KeyRecord:
    """Everything the client knows about one write key."""

    worker: int
    op: str  # "auto" (autocommit statement) or "txn"
    attempts: list[str] = field(default_factory=list)  # outcome of each attempt, in order
    txn_state: str = ""  # for txn keys: "committed", "rolled_back", "not_committed", "commit_unknown"


class Ledger:
    """Shared record of keys, errors and read checks (one lock; workers append rarely)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: dict[str, KeyRecord] = {}
        self.errors: collections.Counter[str] = collections.Counter()
        self.undocumented: list[str] = []
        self.connect_errors: collections.Counter[str] = collections.Counter()
        self.reads = 0
        self.read_anomalies: list[str] = []
        self.transactions = collections.Counter[str]()

    def new_key(self, worker: int, op: str) -> str:
        key = str(uuid.uuid4())
        with self.lock:
            self.keys[key] = KeyRecord(worker, op)
        return key

    def attempt(self, key: str, outcome: str) -> None:
        with self.lock:
            self.keys[key].attempts.append(outcome)

    def error(self, exc: BaseException, where: str) -> str:
        outcome, label = classify(exc)
        with self.lock:
            self.errors[label] += 1
            if outcome == UNDOCUMENTED and len(self.undocumented) < 50:
                self.undocumented.append(f"{where}: {label}: {str(exc)[:200]}")
        return outcome


ACKED = "acked"


# ---------------------------------------------------------------------------- workers
class Worker:
    """One application thread with one sturdydb connection."""

    def __init__(self, index: int, engine: Engine, cluster: Any, props: dict[str, Any], ledger: Ledger,
                 stop: threading.Event, transactional: bool, seed: int) -> None:
        self.index = index
        self.engine = engine
        self.cluster = cluster
        self.props = props
        self.ledger = ledger
        self.stop = stop
        self.transactional = transactional
        self.random = random.Random(seed)
        self.conn: sturdydb.Connection | None = None
        self.last_acked: str | None = None
        self.max_retries = 5

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self.conn is None and not self._connect():
                    self.stop.wait(0.2)
                    continue
                if self.transactional:
                    self._transaction()
                else:
                    roll = self.random.random()
                    if roll < 0.5:
                        self._read()
                    else:
                        self._autocommit_write()
        finally:
            self._drop()

    # -- connection
    def _connect(self) -> bool:
        try:
            conn = sturdydb.connect(self.engine.target, self.cluster.conninfo("cluster"), **self.props)
            conn.autocommit = not self.transactional
        except Exception as exc:  # recorded and classified; the worker tries again
            with self.ledger.lock:
                self.ledger.connect_errors[f"{type(exc).__module__}.{type(exc).__name__}"] += 1
            return False
        self.conn = conn
        return True

    def _drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None

    def _after_error(self, outcome: str) -> None:
        """A failed failover or an undocumented error: start over with a new connection."""
        if outcome in (FAILED, UNDOCUMENTED):
            self._drop()

    # -- reads
    def _read(self) -> None:
        assert self.conn is not None
        key = self.last_acked
        try:
            cur = self.conn.cursor()
            if key is None:
                cur.execute("SELECT 1")
                cur.fetchall()
            else:
                cur.execute(self.engine.count, (key,))
                (count,) = cur.fetchone()
                cur.fetchall()
                # Read-your-writes on the writer: an acknowledged key must be there (copies
                # beyond one are judged by the duplicate check at the end).
                if int(count) < 1:
                    with self.ledger.lock:
                        note = f"worker {self.index}: acknowledged key {key} read back {count} times"
                        if note not in self.ledger.read_anomalies:
                            self.ledger.read_anomalies.append(note)
            with self.ledger.lock:
                self.ledger.reads += 1
        except Exception as exc:
            self._after_error(self.ledger.error(exc, "read"))

    # -- autocommit writes
    def _autocommit_write(self) -> None:
        key = self.ledger.new_key(self.index, "auto")
        for _ in range(self.max_retries):
            if self.conn is None:
                # The previous attempt's connection is gone: a clean "not sent" for this key.
                return
            try:
                cur = self.conn.cursor()
                cur.execute(self.engine.insert, (key, self.index, "auto"))
            except Exception as exc:
                outcome = self.ledger.error(exc, "autocommit insert")
                self.ledger.attempt(key, outcome)
                self._after_error(outcome)
                if outcome == NOT_APPLIED and not self.stop.is_set():
                    continue  # the promise under test: re-running the same key is safe
                return
            self.ledger.attempt(key, ACKED)
            self.last_acked = key
            return

    # -- explicit transactions
    def _transaction(self) -> None:
        keys = [self.ledger.new_key(self.index, "txn") for _ in range(self.random.randint(1, 3))]
        rollback = self.random.random() < 0.15
        for _ in range(self.max_retries):
            conn = self.conn
            if conn is None:
                break
            stage = "insert"
            try:
                cur = conn.cursor()
                for key in keys:
                    cur.execute(self.engine.insert, (key, self.index, "txn"))
                    # Read back inside the transaction: it must see its own uncommitted row.
                    cur.execute(self.engine.count, (key,))
                    (count,) = cur.fetchone()
                    cur.fetchall()
                    if int(count) != 1:
                        with self.ledger.lock:
                            self.ledger.read_anomalies.append(f"worker {self.index}: own txn key counted {count}")
                stage = "commit"
                if rollback:
                    conn.rollback()
                else:
                    conn.commit()
            except Exception as exc:
                outcome = self.ledger.error(exc, f"transaction {stage}")
                with contextlib.suppress(Exception):
                    conn.rollback()
                self._after_error(outcome)
                for key in keys:
                    self.ledger.attempt(key, outcome if stage == "commit" else f"{outcome}_before_commit")
                if outcome == NOT_APPLIED and not self.stop.is_set():
                    continue
                state = "commit_unknown" if stage == "commit" and not rollback else "not_committed"
                self._finish(keys, state)
                return
            for key in keys:
                self.ledger.attempt(key, "rolled_back" if rollback else ACKED)
            self._finish(keys, "rolled_back" if rollback else "committed")
            if not rollback:
                self.last_acked = keys[-1]
            return
        self._finish(keys, "not_committed")

    def _finish(self, keys: list[str], state: str) -> None:
        with self.ledger.lock:
            self.ledger.transactions[state] += 1
            for key in keys:
                self.ledger.keys[key].txn_state = state


# ---------------------------------------------------------------------------- faults
class Injector:
    """Random faults, one at a time, each undone after a random hold.

    Data safety of the *test cluster* is kept apart from sturdydb's: the clusters replicate
    asynchronously, whereas Aurora's storage is shared. So a writer failover first cuts the
    writer off (blackhole), lets the replicas catch up, and resets the old writer's client
    links after killing/freezing/stopping it, so no acknowledgement of a write that cannot
    survive reaches a client. A writer killed without a failover restarts in place with every
    commit (each reached the OS before it was acknowledged). Everything else (freeze,
    blackhole, latency, resets, reader kills) is applied to any instance, writer included.
    """

    KINDS = ("freeze", "blackhole", "latency", "reset", "kill_reader", "kill_writer", "failover")
    FATES: tuple[str, ...] = ("kill", "freeze", "demote")

    def __init__(self, cluster: Any, stop: threading.Event, seed: int, log: Callable[[str], None],
                 kinds: tuple[str, ...] = KINDS) -> None:
        self.kinds = kinds
        self.cluster = cluster
        self.stop = stop
        self.random = random.Random(seed)
        self.counts: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []
        self.log = log
        #: (wall time, instance name) each time an instance became the writer.
        self.writers: list[tuple[float, str]] = [(0.0, cluster.writer.name)]

    def run(self) -> None:
        weight_of = {"freeze": 3, "blackhole": 3, "latency": 2, "reset": 2, "kill_reader": 2, "kill_writer": 1,
                     "failover": 3}
        kinds = list(self.kinds)
        weights = [weight_of[k] for k in kinds]
        while not self.stop.wait(self.random.uniform(0.5, 2.0)):
            kind = self.random.choices(kinds, weights)[0]
            try:
                self._apply(kind)
            except Exception as exc:  # the harness itself failed; reported, the soak goes on
                self.failures.append(f"{kind}: {type(exc).__name__}: {exc}")
                self.log(f"fault {kind} failed: {exc}")
                with contextlib.suppress(Exception):
                    self.cluster.heal(timeout=120)

    def _hold(self, low: float, high: float) -> None:
        self.stop.wait(self.random.uniform(low, high))

    def _apply(self, kind: str) -> None:
        cluster = self.cluster
        running = [i for i in cluster.instances if i.running]
        target = self.random.choice(running)
        if kind == "freeze":
            cluster.freeze(target)
            self.counts[f"freeze ({'writer' if target.is_writer else 'reader'})"] += 1
            self._hold(0.5, 4.0)
            cluster.thaw(target)
        elif kind == "blackhole":
            cluster.blackhole(target)
            self.counts[f"blackhole ({'writer' if target.is_writer else 'reader'})"] += 1
            self._hold(0.5, 4.0)
            cluster.restore(target)
        elif kind == "latency":
            cluster.add_latency(target, self.random.choice([0.02, 0.1, 0.3, 0.8]))
            self.counts[f"latency ({'writer' if target.is_writer else 'reader'})"] += 1
            self._hold(1.0, 5.0)
            cluster.restore(target)
        elif kind == "reset":
            cluster.reset_connections(target)
            self.counts[f"reset ({'writer' if target.is_writer else 'reader'})"] += 1
        elif kind == "kill_reader":
            readers = [i for i in cluster.readers if i.running]
            if len(readers) < 2:
                return
            victim = self.random.choice(readers)
            cluster.kill(victim)
            self.counts["kill (reader)"] += 1
            self._hold(1.0, 4.0)
            cluster.rejoin(victim)
            self.counts["rejoin"] += 1
        elif kind == "kill_writer":
            # A crashed writer that restarts in place (no failover): nothing committed is lost,
            # because each commit reached the OS before it was acknowledged.
            cluster.kill(cluster.writer)
            self.counts["kill (writer, restarted in place)"] += 1
            self._hold(1.0, 4.0)
            cluster.heal(timeout=120)
            self.counts["heal"] += 1
        elif kind == "failover":
            if not any(i.running for i in cluster.readers):
                return
            fate = self.random.choice(self.FATES)
            old = cluster.writer
            cluster.blackhole(old)
            cluster.wait_for_replication(timeout=30)
            new = cluster.failover(old_writer=fate, promote_delay=self.random.uniform(0.0, 1.5))
            with contextlib.suppress(Exception):
                cluster.reset_connections(old)
            cluster.restore(old)
            promoted = [e for e in cluster.events if e.kind == "promote" and e.instance_name == new.name]
            self.writers.append((promoted[-1].wall_time if promoted else time.time(), new.name))
            self.counts[f"failover (old writer: {fate})"] += 1
            self._hold(1.0, 4.0)
            cluster.heal(timeout=120)
            self.counts["heal"] += 1


# ---------------------------------------------------------------------------- leaks
def _socket_fds() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
    return count


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


# The harness's own threads (its proxy loop and process spawner start on first use and live
# for the process, by design); sturdydb's threads are named ``sturdydb-...`` without it.
HARNESS_THREAD_PREFIX = "sturdydb-testing-"


# ---------------------------------------------------------------------------- one engine
def soak_engine(name: str, duration: float, threads: int, seed: int, log: Callable[[str], None],
                kinds: tuple[str, ...] = Injector.KINDS) -> dict[str, Any]:
    engine = _engine(name)
    rng = random.Random(seed)
    base_threads = {t.ident for t in threading.enumerate()}
    base_sockets = _socket_fds()
    base_fds = _fd_count()
    props: dict[str, Any] = {
        "plugins": "failover,host_monitoring",
        "connect_timeout": 2,
        "socket_timeout": 3,
        "failover_timeout_sec": 12,
        "failure_detection_time_ms": 1000,
        "failure_detection_interval_ms": 500,
        "failure_detection_count": 2,
        **engine.extra,
    }
    ledger = Ledger()
    stop = threading.Event()
    log(f"[{name}] starting a 3-instance cluster")
    with engine.cluster_cls(replicas=2, dns_delay=2.0, promote_delay=0.5) as cluster:
        admin = engine.target(**cluster.address_kwargs(cluster.writer))
        cur = admin.cursor()
        for statement in engine.ddl:
            cur.execute(statement)
        admin.commit()
        admin.close()
        cluster.wait_for_replication(timeout=30)
        injector = Injector(cluster, stop, rng.randrange(1 << 30), log, kinds)
        workers = [Worker(i, engine, cluster, props, ledger, stop, transactional=i % 4 == 3,
                          seed=rng.randrange(1 << 30)) for i in range(threads)]
        worker_threads = [threading.Thread(target=w.run, name=f"soak-{name}-worker-{w.index}", daemon=True)
                          for w in workers]
        injector_thread = threading.Thread(target=injector.run, name=f"soak-{name}-faults", daemon=True)
        started = time.monotonic()
        for thread in worker_threads:
            thread.start()
        injector_thread.start()
        while not stop.wait(min(10.0, max(0.0, started + duration - time.monotonic()))):
            if time.monotonic() >= started + duration:
                break
            with ledger.lock:
                acked = sum(1 for r in ledger.keys.values() if ACKED in r.attempts)
                errors = sum(ledger.errors.values())
            log(f"[{name}] {time.monotonic() - started:5.0f}s: {acked} writes acknowledged, {errors} errors,"
                f" faults {sum(injector.counts.values())}")
        stop.set()
        stop_at = time.monotonic()
        # Prompt exit: every call is bounded by socket_timeout / failover_timeout_sec.
        exit_bound = props["socket_timeout"] + props["failover_timeout_sec"] + props["connect_timeout"] + 15
        for thread in worker_threads:
            thread.join(timeout=max(0.1, stop_at + exit_bound - time.monotonic()))
        workers_exit_s = time.monotonic() - stop_at
        stuck_workers = [t.name for t in worker_threads if t.is_alive()]
        injector_thread.join(timeout=300)
        sturdydb.release_resources()
        log(f"[{name}] workers stopped in {workers_exit_s:.1f}s; healing and checking the final writer")
        cluster.heal(timeout=120)
        cluster.wait_for_replication(timeout=60)
        final_writer = cluster.writer.name
        check = engine.target(**cluster.address_kwargs(cluster.writer))
        cur = check.cursor()
        cur.execute("SELECT k, server, on_replica, at FROM soak_writes")
        rows = cur.fetchall()
        check.close()
        events = list(cluster.events)
    # The cluster is stopped: whatever sockets and threads remain belong to sturdydb or to us.
    deadline = time.monotonic() + 15
    while True:
        leaked_threads = [t.name for t in threading.enumerate()
                          if t.ident not in base_threads and t.is_alive() and not t.name.startswith(HARNESS_THREAD_PREFIX)]
        sockets = _socket_fds()
        if (not leaked_threads and sockets <= base_sockets + 4) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return _check(name, ledger, injector, rows, events, final_writer, {
        "workers_exit_s": round(workers_exit_s, 1), "exit_bound_s": exit_bound, "stuck_workers": stuck_workers,
        "leaked_threads": leaked_threads, "sockets_before": base_sockets, "sockets_after": sockets,
        "fds_before": base_fds, "fds_after": _fd_count(), "duration_s": duration, "threads": threads,
    })


def _writer_at(writers: list[tuple[float, str]], at: float) -> str:
    current = writers[0][1]
    for since, name in writers:
        if at >= since:
            current = name
    return current


def _check(name: str, ledger: Ledger, injector: Injector, rows: list[Any], events: list[Any], final_writer: str,
           hygiene: dict[str, Any]) -> dict[str, Any]:
    present: collections.Counter[str] = collections.Counter()
    copies: dict[str, list[str]] = collections.defaultdict(list)
    wrong_node: list[str] = []
    slack = 1.0  # seconds of clock/event skew tolerated around a promotion
    for key, server, on_replica, at in rows:
        present[str(key)] += 1
        # Where and when each copy was executed: the same server and instant twice means the
        # row was replicated twice; different instants mean the statement ran twice.
        copies[str(key)].append(f"{server}@{float(at):.6f}")
        if bool(on_replica):
            wrong_node.append(f"{key} written on {server} while it was a replica")
            continue
        at = float(at)
        if server not in (_writer_at(injector.writers, at - slack), _writer_at(injector.writers, at + slack)):
            wrong_node.append(f"{key} written on {server} at {at:.3f}; the writer was "
                              f"{_writer_at(injector.writers, at)}")
    acknowledged = lost = duplicated = unknown = unknown_present = false_not_applied = 0
    retried_ok = rolled_back_present = uncommitted_present = 0
    problems: list[str] = []
    replicated_twice: list[str] = []
    for key, rec in ledger.keys.items():
        # Executions, not rows: two rows with the same server and the same microsecond are one
        # execution that the test cluster's replication applied twice (a MariaDB replica that
        # was killed and re-pointed re-applies row events; with no unique key nothing stops
        # it). That is a defect of the test cluster, reported on its own line, not a write
        # sturdydb sent twice.
        n = len(set(copies.get(key, ())))
        if present.get(key, 0) > n:
            replicated_twice.append(f"key {key} rows: {', '.join(copies[key])}")
        if n > 1:
            duplicated += 1
            problems.append(f"key {key} ({rec.op}, attempts {rec.attempts}) executed {n} times:"
                            f" {', '.join(copies[key])}")
        acked = rec.attempts.count(ACKED)
        if acked:
            acknowledged += 1
            if n == 0:
                lost += 1
                problems.append(f"acknowledged key {key} ({rec.op}, attempts {rec.attempts}) is missing")
            if rec.attempts[:-1] and all(a.startswith(NOT_APPLIED) for a in rec.attempts[:-1]):
                retried_ok += 1
            continue
        if rec.txn_state == "rolled_back" or (rec.op == "txn" and rec.txn_state == "not_committed"):
            if n:
                if rec.txn_state == "rolled_back":
                    rolled_back_present += 1
                else:
                    uncommitted_present += 1
                problems.append(f"key {key} of a transaction that was {rec.txn_state} is present")
            continue
        definite = all(a.startswith(NOT_APPLIED) for a in rec.attempts)
        if definite:
            if n:
                false_not_applied += 1
                problems.append(f"key {key} ({rec.op}) reported not applied ({rec.attempts}) but present")
            continue
        unknown += 1
        unknown_present += 1 if n else 0
    never_attempted = sum(1 for key in present if key not in ledger.keys)
    if never_attempted:
        problems.append(f"{never_attempted} rows with keys nobody wrote")
    checks = {
        "acknowledged writes present exactly once": lost == 0 and duplicated == 0,
        "no key present twice": duplicated == 0,
        "no false 'not applied' (08S02)": false_not_applied == 0,
        "rolled back / uncommitted transactions absent": rolled_back_present == 0 and uncommitted_present == 0,
        "no write on a wrong node": not wrong_node,
        "only documented errors": not ledger.undocumented,
        "read-your-writes on the writer": not ledger.read_anomalies,
        "no leaked threads": not hygiene["leaked_threads"],
        "no leaked sockets": hygiene["sockets_after"] <= hygiene["sockets_before"] + 4,
        "prompt exit": not hygiene["stuck_workers"] and hygiene["workers_exit_s"] <= hygiene["exit_bound_s"],
        "fault injector healthy": not injector.failures,
    }
    harness = {
        "test cluster replicated every row once": not replicated_twice,
    }
    return {
        "writes": {
            "write keys attempted": len(ledger.keys),
            "acknowledged": acknowledged,
            "lost": lost,
            "duplicated": duplicated,
            "acknowledged after 08S02 retry": retried_ok,
            "not applied (08S02, absent)": sum(1 for r in ledger.keys.values()
                                               if r.attempts and ACKED not in r.attempts
                                               and all(a.startswith(NOT_APPLIED) for a in r.attempts)),
            "false not applied": false_not_applied,
            "outcome unknown": unknown,
            "outcome unknown, present": unknown_present,
            "wrong node": len(wrong_node),
            "rows on final writer": sum(present.values()),
            "replicated twice by the test cluster": len(replicated_twice),
        },
        "transactions": dict(ledger.transactions),
        "reads": {"reads": ledger.reads, "anomalies": len(ledger.read_anomalies)},
        "faults": dict(sorted(injector.counts.items())),
        "errors": dict(sorted(ledger.errors.items())),
        "connect_errors": dict(sorted(ledger.connect_errors.items())),
        "hygiene": {k: (", ".join(v) or "none") if isinstance(v, list) else v for k, v in hygiene.items()},
        "checks": {k: "pass" if v else "FAIL" for k, v in checks.items()},
        "harness": {k: "pass" if v else "FAIL (test cluster defect, not sturdydb)" for k, v in harness.items()},
        "final_writer": final_writer,
        "details": (problems[:20] + wrong_node[:10] + ledger.undocumented[:10] + ledger.read_anomalies[:10]
                    + injector.failures[:10] + [f"test cluster: {line}" for line in replicated_twice[:5]]),
        "passed": all(checks.values()),
        "_event_count": len(events),
    }


# ---------------------------------------------------------------------------- report
def _pivot(per_engine: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``engine -> category -> figures`` as ``category -> engine -> figures`` (one table each)."""
    out: dict[str, Any] = {}
    for category in ("writes", "transactions", "reads", "faults", "errors", "connect_errors", "hygiene", "checks",
                     "harness"):
        out[category] = {engine: data.get(category, {}) or {"(none)": 0} for engine, data in per_engine.items()}
    return out


def publish(report: dict[str, Any], shown: str, path: Path) -> None:
    """Replace (or append) the soak's section of BENCHMARKS.md, leaving the others alone."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run_all import _render

    data = dict(report)
    title = data.pop("title")
    section = "\n".join([f"## {title}", "", f"Command: `{shown}`", "", *_render(data)]) + "\n"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    start = text.find(f"## {title}")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    path.write_text(text)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    logging.basicConfig(level=logging.ERROR, format="%(name)s: %(message)s")
    yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["pg", "mysql", "both"], default="both")
    parser.add_argument("--duration", type=float, default=90.0, help="seconds of faults per engine (default 90)")
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="30 s per engine (what CI runs)")
    parser.add_argument("--publish", action="store_true", help="also write the soak section of BENCHMARKS.md")
    parser.add_argument("--faults", default=",".join(Injector.KINDS),
                        help=f"comma-separated fault kinds to inject (default: all of {', '.join(Injector.KINDS)})")
    parser.add_argument("--failover-fates", default="kill,freeze,demote",
                        help="what happens to the old writer in a failover (default: kill,freeze,demote)")
    args = parser.parse_args(argv)
    kinds = tuple(k.strip() for k in args.faults.split(",") if k.strip())
    unknown = set(kinds) - set(Injector.KINDS)
    if unknown or not kinds:
        parser.error(f"unknown fault kinds {sorted(unknown)}; choose from {', '.join(Injector.KINDS)}")
    Injector.FATES = tuple(f.strip() for f in args.failover_fates.split(",") if f.strip())
    duration = 30.0 if args.quick and args.duration == 90.0 else args.duration
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    engines = ["pg", "mysql"] if args.engine == "both" else [args.engine]
    per_engine: dict[str, dict[str, Any]] = {}
    t0 = time.monotonic()
    with _quiet_logs():
        for i, name in enumerate(engines):
            per_engine[name] = soak_engine(name, duration, args.threads, seed + i, log, kinds)
    verdict = all(d["passed"] for d in per_engine.values())
    report: dict[str, Any] = {
        "title": TITLE,
        "verdict": "PASS: zero lost, zero duplicated, zero wrong-node writes; only documented errors"
        if verdict else "FAIL (see the checks and details below)",
        "settings": f"{args.threads} threads per engine, {duration:.0f} s of faults per engine, seed {seed};"
        " plugins failover,host_monitoring, socket_timeout 3 s, failover_timeout_sec 12",
        "wall time (s)": round(time.monotonic() - t0, 1),
        "what is checked": "on the final writer after a heal: every acknowledged write present exactly once, no key"
        " present twice, keys reported not applied (08S02) absent unless a retry of the same key was"
        " acknowledged, keys of rolled-back or uncommitted transactions absent, keys of unknown outcome (08007)"
        " present at most once; every row written by the instance that was the writer at that time and not in"
        " recovery / read-only (recorded by the INSERT itself); only documented errors; no thread or socket left"
        " after release_resources(); workers stop within the bound",
        "connect errors": "reported, not judged: with enable_connect_failover off (the default) a failed first"
        " connect raises the driver's own error, as documented",
        **_pivot(per_engine),
    }
    details = {engine: d["details"] for engine, d in per_engine.items() if d["details"]}
    if details:
        report["details"] = [{"engine": engine, "detail": line} for engine, lines in details.items()
                             for line in lines]
    print(json.dumps(report, indent=2, default=str))
    if args.publish:
        shown = "python benchmarks/soak.py " + " ".join(argv if argv is not None else sys.argv[1:])
        publish(report, shown.strip(), ROOT / "BENCHMARKS.md")
        log("wrote the soak section of BENCHMARKS.md")
    for engine, lines in details.items():
        for line in lines:
            log(f"[{engine}] {line}")
    log(f"verdict: {report['verdict']}")
    return 0 if verdict else 1


if __name__ == "__main__":
    raise SystemExit(main())
