"""The Django failover workload, shared by the in-process scenario and the psycopg2 child process.

Threads behave like request handlers with persistent connections (``CONN_MAX_AGE=None``,
``CONN_HEALTH_CHECKS=True``): ``close_old_connections()`` at the start and end of every unit, as
Django's request signals do; a unit is two model saves inside ``transaction.atomic``. A unit whose
block raised is never re-run (its outcome may be unknown); the thread moves to its next unit.

:func:`run_units` returns a plain-data :class:`UnitsOutcome` (what each thread committed,
attempted and saw fail), so a child interpreter can hand it back as JSON and the test checks both
the same way (:func:`check_outcome`, :func:`check_rows`).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import Error as DjangoError
from django.db import close_old_connections, connections, transaction
from django.db.models.expressions import RawSQL
from django_setup import add_database

import sturdydb
from sturdydb_testing.workers import join_by_deadline

PLUGINS = "aurora_connection_tracker,failover,host_monitoring"
NODE_SQL = {"pg": "aurora_db_instance_identifier()", "mysql": "@@aurora_server_id"}
THREADS = 8
#: Units every thread must commit after the new writer is promoted.
UNITS_AFTER_FAILOVER = 10


def add_cluster_database(engine: str, kwargs: dict[str, Any], dbname: str, backend: str | None = None) -> str:
    """A Django alias for the cluster endpoint in ``kwargs`` (from ``Cluster.connect_kwargs()``)."""
    options: dict[str, Any] = {"plugins": PLUGINS, "failover_timeout_sec": 60, "connect_timeout": 3,
                               "socket_timeout": 2}
    if engine == "mysql":
        options["use_pure"] = True
    backend = backend or ("sturdydb_django.postgresql" if engine == "pg" else "sturdydb_django.mysql")
    return add_database(backend, host=kwargs["host"], port=kwargs["port"], user=kwargs["user"],
                        password=kwargs["password"], name=dbname, options=options, CONN_MAX_AGE=None,
                        CONN_HEALTH_CHECKS=True)


@dataclasses.dataclass
class UnitsOutcome:
    """What the threads did. ``errors`` holds, per thread, ``(seq, Django error class, whether its
    cause is a sturdydb FailoverError, the cause's kind, the cause's message)``; ``baseline`` the units each thread had
    committed when the new writer was promoted."""

    committed: dict[int, list[int]]
    attempted: dict[int, list[int]]
    errors: dict[int, list[tuple[int, str, bool, str, str]]]
    after_error: dict[int, int]
    failures: list[str]
    blocked: list[str]
    baseline: dict[int, int] | None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> UnitsOutcome:
        raw = json.loads(text)

        def by_thread(d: dict[str, Any] | None) -> Any:
            return None if d is None else {int(k): v for k, v in d.items()}

        return cls(committed=by_thread(raw["committed"]), attempted=by_thread(raw["attempted"]),
                   errors={int(k): [tuple(e) for e in v] for k, v in raw["errors"].items()},  # type: ignore[misc]
                   after_error=by_thread(raw["after_error"]), failures=raw["failures"],
                   blocked=raw["blocked"], baseline=by_thread(raw["baseline"]))


def _describe(seq: int, exc: BaseException) -> tuple[int, str, bool, str, str]:
    cause = exc.__cause__
    return (seq, type(exc).__name__, isinstance(cause, sturdydb.FailoverError),
            type(cause).__mro__[1].__name__ if cause is not None else "", str(cause)[:300])


def run_units(alias: str, model: type[Any], engine: str, start_failover: Callable[[], None],
              promoted: Callable[[], bool], threads: int = THREADS) -> UnitsOutcome:
    """Run the workload; thread 0 calls ``start_failover`` before its fifth unit. Ends once each
    thread committed :data:`UNITS_AFTER_FAILOVER` units after ``promoted()`` turned true (or 60 s)."""
    node = RawSQL(NODE_SQL[engine], [])
    committed: dict[int, list[int]] = {w: [] for w in range(threads)}
    attempted: dict[int, list[int]] = {w: [] for w in range(threads)}
    errors: dict[int, list[tuple[int, str, bool, str, str]]] = {w: [] for w in range(threads)}
    after_error: dict[int, int] = dict.fromkeys(range(threads), 0)
    failures: list[str] = []
    done = threading.Event()
    go = threading.Barrier(threads + 1)

    def worker(w: int) -> None:
        seq = 0
        try:
            # The persistent connection exists before the fault, as in a warmed-up application.
            # A first connect in the middle of the failover that the topology cannot route yet
            # (no verified writer at that moment) gets the driver's own error by design
            # (nothing applied; enable_connect_failover is opt-in), which is not what this
            # workload checks. (A routed first connect whose writer dies before it is verified
            # goes on to the new writer: sturdydb-failover's
            # test_writer_dies_while_a_connect_is_verified.)
            connections[alias].ensure_connection()
            go.wait()
            deadline = time.monotonic() + 60
            while not done.is_set():
                assert time.monotonic() < deadline, (f"worker {w}: no end: {len(errors[w])} errors, "
                                                     f"{len(committed[w])} commits, last: {errors[w][-3:]}")
                seq += 1
                if w == 0 and seq == 5:
                    start_failover()
                attempted[w].append(seq)
                close_old_connections()  # request_started
                try:
                    with transaction.atomic(using=alias):
                        for part in (0, 1):
                            model.objects.using(alias).create(worker=w, seq=seq, part=part, node=node)
                except DjangoError as exc:
                    errors[w].append(_describe(seq, exc))  # move on: never re-run a unit of unknown outcome
                    after_error[w] = 0
                else:
                    committed[w].append(seq)
                    if errors[w]:
                        after_error[w] += 1
                finally:
                    close_old_connections()  # request_finished
            connections[alias].close()
        except BaseException as exc:
            failures.append(repr(exc))
            go.abort()  # a thread that failed before the start must not leave the others waiting

    workers = [threading.Thread(target=worker, args=(w,), name=f"django-worker-{w}", daemon=True)
               for w in range(threads)]
    for t in workers:
        t.start()
    go.wait()
    deadline = time.monotonic() + 60
    baseline: dict[int, int] | None = None
    while time.monotonic() < deadline and not failures:
        if baseline is None and promoted():
            baseline = {w: len(committed[w]) for w in range(threads)}
        if baseline is not None and all(len(committed[w]) >= baseline[w] + UNITS_AFTER_FAILOVER
                                        for w in range(threads)):
            break
        time.sleep(0.05)
    done.set()
    blocked = join_by_deadline(workers, 30)
    return UnitsOutcome(committed=committed, attempted=attempted, errors=errors, after_error=after_error,
                        failures=failures, blocked=blocked, baseline=baseline)


def check_outcome(outcome: UnitsOutcome) -> None:
    """Every thread went on committing after the failover; each error it saw is Django's
    ``OperationalError`` caused by sturdydb's failover outcome."""
    assert not outcome.blocked, f"workers blocked in a database call: {outcome.blocked}"
    assert not outcome.failures, outcome.failures
    assert outcome.baseline is not None, "the new writer was never promoted"
    for w, seqs in outcome.committed.items():
        errors = outcome.errors[w]
        # A thread between two units may never see an error: its request-start health check
        # (CONN_HEALTH_CHECKS) failed over with FailoverSuccessError, which counts as usable.
        assert len(seqs) >= outcome.baseline[w] + UNITS_AFTER_FAILOVER, f"worker {w} did not go on: {errors}"
        if errors:
            assert outcome.after_error[w] >= 1, f"worker {w} never committed after its error: {errors}"
        for _, django_class, from_failover, *_ in errors:
            # What the application sees: django.db.OperationalError caused by sturdydb's outcome.
            assert django_class == "OperationalError", errors
            assert from_failover, errors


def check_rows(rows: list[tuple[Any, ...]], outcome: UnitsOutcome, nodes: set[str]) -> None:
    """``rows`` (worker, seq, part, node) read on the new writer: every committed unit is there
    exactly once and whole, none written on a node outside ``nodes``, none nobody attempted."""
    present: dict[tuple[int, int], list[int]] = {}
    for w, s, p, n in rows:
        present.setdefault((int(w), int(s)), []).append(int(p))
        assert n in nodes, f"a row written on a wrong node: {n}"
    done_units = {(w, s) for w, seqs in outcome.committed.items() for s in seqs}
    tried = {(w, s) for w, seqs in outcome.attempted.items() for s in seqs}
    assert not sorted(done_units - set(present)), "committed units missing on the new writer"
    assert not {k: v for k, v in present.items() if sorted(v) != [0, 1]}, "units applied partly or twice"
    assert not sorted(set(present) - tried), "units nobody wrote"


def error_kinds(outcome: UnitsOutcome) -> str:
    kinds = sorted({kind for errs in outcome.errors.values() for *_, kind, _message in errs})
    return f"{sum(map(len, outcome.errors.values()))} errors ({kinds})"
