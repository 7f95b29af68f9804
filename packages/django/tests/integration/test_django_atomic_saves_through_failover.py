"""Django model saves inside ``transaction.atomic`` on 8 threads through a real writer failover,
both engines and backends: every unit whose atomic block returned is on the new writer exactly
once, nothing lands on a wrong node, and each thread goes on by moving to its next unit.

The workload (:mod:`atomic_units`) behaves like request handlers with persistent connections.
PostgreSQL runs it twice: on psycopg 3 in this process, and on psycopg2, the driver Django's
backend takes when psycopg 3 is not installed, in a child interpreter that blocks psycopg 3
(Django decides once per process) while this process kills or freezes the writer of the same
cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from atomic_units import (
    NODE_SQL,
    UnitsOutcome,
    add_cluster_database,
    check_outcome,
    check_rows,
    error_kinds,
    run_units,
)
from django.db import connections
from django_setup import unit_model

import sturdydb
from sturdydb_testing import Cluster, Instance
from sturdydb_testing.drivers import DEFAULT_DRIVERS


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


def _rows_on_the_new_writer(cluster: Cluster, new: Instance, table: str) -> list[tuple[Any, ...]]:
    """(worker, seq, part, node) of every row, read on the writer, which must be ``new``."""
    driver = DEFAULT_DRIVERS[cluster.engine]
    verify = sturdydb.connect(driver.connect, cluster.conninfo(cluster.writer), plugins="", **driver.options)
    try:
        cur = verify.cursor()
        cur.execute(f"SELECT {NODE_SQL[cluster.engine]}")
        assert cur.fetchone()[0] == new.name
        cur.execute(f"SELECT worker, seq, part, node FROM {table}")
        return list(cur.fetchall())
    finally:
        verify.close()


@pytest.mark.parametrize("old_writer", ["kill", "freeze"])
def test_atomic_model_saves_survive_a_writer_failover(aurora_cluster: Cluster, old_writer: str) -> None:
    alias = add_cluster_database(aurora_cluster.engine, aurora_cluster.connect_kwargs(), aurora_cluster.dbname)
    model = unit_model()
    with connections[alias].schema_editor() as editor:
        editor.create_model(model)
    connections[alias].close()
    old = aurora_cluster.writer
    assert old is not None
    future: list[Any] = []
    outcome = run_units(alias, model, aurora_cluster.engine,
                        start_failover=lambda: future.append(_start_failover(aurora_cluster, old_writer)),
                        promoted=lambda: bool(future) and future[0].done())
    check_outcome(outcome)
    new = future[0].result(60)
    check_rows(_rows_on_the_new_writer(aurora_cluster, new, model._meta.db_table), outcome, {old.name, new.name})
    print(f"\n{aurora_cluster.engine} {old_writer}: {error_kinds(outcome)}")


@pytest.mark.parametrize("aurora_cluster", ["pg"], indirect=True)
@pytest.mark.parametrize("old_writer", ["kill", "freeze"])
@pytest.mark.timeout(240)
def test_atomic_model_saves_on_psycopg2_survive_a_writer_failover(aurora_cluster: Cluster, old_writer: str) -> None:
    old = aurora_cluster.writer
    assert old is not None
    config = {"kwargs": aurora_cluster.connect_kwargs(), "dbname": aurora_cluster.dbname,
              "pins": {host: [pin.address, pin.port] for host, pin in sturdydb.mapped_hosts().items()}}
    child_script = Path(__file__).with_name("psycopg2_units_child.py")
    with tempfile.TemporaryFile("w+") as stderr:
        # stderr to a file: a pipe nobody reads while the child runs could fill and block it.
        child = subprocess.Popen([sys.executable, str(child_script), json.dumps(config)], cwd=Path(__file__).parent,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True)
        assert child.stdin is not None and child.stdout is not None
        try:
            lines: list[str] = []

            def next_line(expected: str) -> str:
                line = child.stdout.readline()  # type: ignore[union-attr]
                lines.append(line)
                if not line.startswith(expected):
                    stderr.seek(0)
                    raise AssertionError(f"child said {lines!r}, expected {expected!r}; stderr: "
                                         f"{stderr.read()[-4000:]}")
                return line.split(" ", 1)[-1].strip()

            table = next_line("table ")
            next_line("start-failover")
            future = _start_failover(aurora_cluster, old_writer)
            child.stdin.write("started\n")
            child.stdin.flush()
            new = future.result(60)
            child.stdin.write("promoted\n")
            child.stdin.flush()
            outcome = UnitsOutcome.from_json(next_line("outcome "))
            assert child.wait(60) == 0
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)
    check_outcome(outcome)
    check_rows(_rows_on_the_new_writer(aurora_cluster, new, table), outcome, {old.name, new.name})
    print(f"\npg psycopg2 {old_writer}: {error_kinds(outcome)}")
