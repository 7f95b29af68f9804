"""Django model saves inside ``transaction.atomic`` on 8 threads through a real writer failover,
both engines and backends: every unit whose atomic block returned is on the new writer exactly
once, nothing lands on a wrong node, and each thread goes on by moving to its next unit.

Each thread behaves like a request handler with persistent connections (``CONN_MAX_AGE=None``,
``CONN_HEALTH_CHECKS=True``): ``close_old_connections()`` at the start and end of every unit,
as Django's request signals do.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import Error as DjangoError
from django.db import close_old_connections, connections, transaction
from django.db.models.expressions import RawSQL
from django_setup import add_database, unit_model

import sturdydb
from sturdydb_testing import Cluster

PLUGINS = "aurora_connection_tracker,failover,host_monitoring"
NODE_SQL = {"pg": "aurora_db_instance_identifier()", "mysql": "@@aurora_server_id"}


def _alias(cluster: Cluster) -> str:
    kw = cluster.connect_kwargs()
    options: dict[str, Any] = {"plugins": PLUGINS, "failover_timeout_sec": 60, "connect_timeout": 3,
                               "socket_timeout": 2}
    if cluster.engine == "mysql":
        options["use_pure"] = True
    engine = "sturdydb_django.postgresql" if cluster.engine == "pg" else "sturdydb_django.mysql"
    return add_database(engine, host=kw["host"], port=kw["port"], user=kw["user"], password=kw["password"],
                        name=cluster.dbname, options=options, CONN_MAX_AGE=None, CONN_HEALTH_CHECKS=True)


def _start_failover(cluster: Cluster, old_writer: str) -> Any:
    old = cluster.writer
    assert old is not None
    before = len(cluster.events)
    cluster.blackhole(old)  # durability: replicas catch up first (see sturdydb-failover's scenarios)
    cluster.wait_for_replication(timeout=20)
    future = cluster.failover_in_background(old_writer=old_writer)  # type: ignore[arg-type]
    deadline = time.monotonic() + 20
    while not any(e.kind == old_writer and e.instance_name == old.name for e in cluster.events[before:]):
        assert time.monotonic() < deadline, "the failover did not start"
        time.sleep(0.005)
    cluster.restore(old)
    return future


@pytest.mark.parametrize("old_writer", ["kill", "freeze"])
def test_atomic_model_saves_survive_a_writer_failover(aurora_cluster: Cluster, old_writer: str) -> None:
    alias = _alias(aurora_cluster)
    model = unit_model()
    with connections[alias].schema_editor() as editor:
        editor.create_model(model)
    connections[alias].close()
    old = aurora_cluster.writer
    assert old is not None
    node = RawSQL(NODE_SQL[aurora_cluster.engine], [])
    threads = 8
    committed: dict[int, list[int]] = {w: [] for w in range(threads)}
    attempted: dict[int, set[int]] = {w: set() for w in range(threads)}
    errors: dict[int, list[tuple[int, BaseException]]] = {w: [] for w in range(threads)}
    after_error: dict[int, int] = dict.fromkeys(range(threads), 0)
    failures: list[BaseException] = []
    future: list[Any] = []
    done = threading.Event()
    go = threading.Barrier(threads + 1)

    def worker(w: int) -> None:
        seq = 0
        try:
            go.wait()
            deadline = time.monotonic() + 60
            while not done.is_set():
                assert time.monotonic() < deadline, (f"worker {w}: no end: {len(errors[w])} errors, {len(committed[w])} "
                                                     f"commits, last: {errors[w][-3:]}")
                seq += 1
                if w == 0 and seq == 5:
                    future.append(_start_failover(aurora_cluster, old_writer))
                attempted[w].add(seq)
                close_old_connections()  # request_started
                try:
                    with transaction.atomic(using=alias):
                        for part in (0, 1):
                            model.objects.using(alias).create(worker=w, seq=seq, part=part, node=node)
                except DjangoError as exc:
                    errors[w].append((seq, exc))  # move on: never re-run a unit of unknown outcome
                    after_error[w] = 0
                else:
                    committed[w].append(seq)
                    if errors[w]:
                        after_error[w] += 1
                finally:
                    close_old_connections()  # request_finished
            connections[alias].close()
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=worker, args=(w,), name=f"django-worker-{w}", daemon=True)
               for w in range(threads)]
    for t in workers:
        t.start()
    go.wait()
    deadline = time.monotonic() + 60
    baseline: dict[int, int] | None = None
    while time.monotonic() < deadline and not failures:
        if baseline is None and future and future[0].done():
            baseline = {w: len(committed[w]) for w in range(threads)}  # the new writer is promoted
        if baseline is not None and all(len(committed[w]) >= baseline[w] + 10 for w in range(threads)):
            break
        time.sleep(0.05)
    done.set()
    join_deadline = time.monotonic() + 30
    for t in workers:
        t.join(max(0.0, join_deadline - time.monotonic()))
    assert not [t.name for t in workers if t.is_alive()], "workers blocked in a database call"
    assert not failures, failures
    new = future[0].result(60)
    assert baseline is not None
    for w in range(threads):
        # A thread between two units may never see an error: its request-start health check
        # (CONN_HEALTH_CHECKS) failed over with FailoverSuccessError, which counts as usable.
        # Every thread must go on committing after the failover.
        assert len(committed[w]) >= baseline[w] + 10, f"worker {w} did not go on: {errors[w]}"
        if errors[w]:
            assert after_error[w] >= 1, f"worker {w} never committed after its error: {errors[w]}"
        for _, exc in errors[w]:
            # What the application sees: django.db.OperationalError caused by sturdydb's outcome.
            assert type(exc).__name__ == "OperationalError", repr(exc)
            assert isinstance(exc.__cause__, sturdydb.FailoverError), repr(exc.__cause__)

    verify = sturdydb.connect(
        __import__("psycopg").Connection.connect if aurora_cluster.engine == "pg" else __import__("mysql.connector").connector.connect,
        aurora_cluster.conninfo(aurora_cluster.writer), plugins="",
        **({"use_pure": True} if aurora_cluster.engine == "mysql" else {}))
    try:
        cur = verify.cursor()
        cur.execute(f"SELECT {NODE_SQL[aurora_cluster.engine]}")
        assert cur.fetchone()[0] == new.name
        cur.execute(f"SELECT worker, seq, part, node FROM {model._meta.db_table}")
        rows = cur.fetchall()
    finally:
        verify.close()
    present: dict[tuple[int, int], list[int]] = {}
    for w, s, p, n in rows:
        present.setdefault((int(w), int(s)), []).append(int(p))
        assert n in (old.name, new.name), f"a row written on a wrong node: {n}"
    done_units = {(w, s) for w, seqs in committed.items() for s in seqs}
    tried = {(w, s) for w, seqs in attempted.items() for s in seqs}
    assert not sorted(done_units - set(present)), "committed units missing on the new writer"
    assert not {k: v for k, v in present.items() if sorted(v) != [0, 1]}, "units applied partly or twice"
    assert not sorted(set(present) - tried), "units nobody wrote"
    kinds = sorted({type(e.__cause__).__mro__[1].__name__ for errs in errors.values() for _, e in errs})
    print(f"\n{aurora_cluster.engine} {old_writer}: {sum(map(len, errors.values()))} errors ({kinds})")
