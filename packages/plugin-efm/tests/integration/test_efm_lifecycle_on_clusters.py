"""Monitoring with failover, and a process whose host is frozen while calls are in flight."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest
from efm_scenarios import BackgroundCall, connect, instance_id, sleep_sql

import sturdydb
from sturdydb_efm import CODE
from sturdydb_testing import Cluster

pytestmark = pytest.mark.integration


def test_a_frozen_writer_ends_with_failover_success_on_the_new_writer(aurora_cluster: Cluster) -> None:
    conn = connect(aurora_cluster, plugins="failover,host_monitoring", failover_timeout_sec=60)
    old = aurora_cluster.writer
    assert old is not None
    call = BackgroundCall(conn, sleep_sql(aurora_cluster, 120))
    time.sleep(0.3)
    future = aurora_cluster.failover_in_background(old_writer="freeze")
    call.wait(60)
    new = future.result(60)
    assert isinstance(call.error, sturdydb.FailoverSuccessError), f"got {call.error!r}"
    assert conn.context.driver.is_network_error(call.error.__cause__)  # type: ignore[arg-type]
    assert instance_id(conn, aurora_cluster) == new.name
    # Monitoring followed the connection: its next long call is probed on the new writer.
    slot = conn.context.plugin_state[CODE]
    assert slot.host.host == new.host
    again = BackgroundCall(conn, sleep_sql(aurora_cluster, 1.8)).wait(30)
    assert again.error is None
    assert slot.monitor is not None and slot.monitor.host.host == new.host
    assert slot.monitor.probes >= 1
    conn.close()


_CHILD = textwrap.dedent("""
    import json, sys, threading
    import sturdydb
    from sturdydb_efm import service
    kwargs, engine = json.loads(sys.argv[1]), sys.argv[2]
    if engine == "pg":
        import psycopg
        target, sql = psycopg.Connection.connect, "SELECT pg_sleep(120)"
    else:
        import mysql.connector
        target, sql = mysql.connector.connect, "SELECT SLEEP(120)"
        kwargs["use_pure"] = True
    props = dict(plugins="host_monitoring", autocommit=True, failure_detection_time_ms=300,
                 failure_detection_interval_ms=1000, failure_detection_count=100)
    conns = [sturdydb.connect(target, **kwargs, **props) for _ in range(3)]
    def call(conn):
        conn.cursor().execute(sql)
    for c in conns:
        threading.Thread(target=call, args=(c,), daemon=True).start()
    print("ready", flush=True)
    sys.stdin.readline()
    (monitor,) = service.monitors()
    snap = monitor.snapshot()
    print(json.dumps(snap), flush=True)
""")


def test_a_process_with_a_frozen_host_and_calls_in_flight_exits_promptly(aurora_cluster: Cluster) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(aurora_cluster.address_kwargs(writer)), aurora_cluster.engine],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        aurora_cluster.freeze(writer)
        time.sleep(2.5)  # calls past their grace time, a probe stuck on the frozen host
        child.stdin.write("\n")
        child.stdin.flush()
        snapshot = json.loads(child.stdout.readline())
        asked_to_exit = time.monotonic()
        code = child.wait(30)
        exit_took = time.monotonic() - asked_to_exit
    finally:
        if child.poll() is None:
            child.kill()
        aurora_cluster.thaw(writer)
    assert code == 0
    assert snapshot["in_flight"] == 3
    assert snapshot["probing"] and snapshot["failed_probes"] >= 1, snapshot
    assert exit_took < 10, f"exit took {exit_took:.1f} s"
