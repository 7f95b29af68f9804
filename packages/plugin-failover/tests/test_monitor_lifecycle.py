"""The shared monitor's lifecycle: one per cluster, stops when unused, fresh after fork, no exit hang."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import pytest

import sturdydb
from sturdydb import HostInfo, HostRole
from sturdydb.plugin_api import ClusterTopology
from sturdydb_failover import monitors
from sturdydb_failover.plugin import FailoverPlugin

Open = Callable[..., sturdydb.Connection]


def _monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sturdydb-topology-") and t.is_alive()]


def test_connections_of_one_cluster_share_one_monitor(open_conn: Open) -> None:
    a = open_conn(autocommit=True)
    b = open_conn(autocommit=True)
    assert a.context.plugin_state["failover"].monitor is b.context.plugin_state["failover"].monitor
    assert len(monitors.all()) == 1
    assert all(t.daemon for t in _monitor_threads())


def test_each_connection_fails_over_with_its_own_properties(open_conn: Open) -> None:
    a = open_conn(autocommit=True)
    b = open_conn(autocommit=True)
    c = open_conn(autocommit=True, failover_timeout_sec=4, failover_mode="reader_or_writer")
    settings = [conn.context.plugin_state["failover"].settings for conn in (a, b, c)]
    # The same arguments share settings computed once; other arguments get their own.
    assert settings[1] is settings[0]
    assert settings[0].timeout == 10 and settings[0].mode.value == "strict_writer"
    assert settings[2].timeout == 4 and settings[2].mode.value == "reader_or_writer"


def test_the_monitor_stops_once_no_connection_uses_it(open_conn: Open) -> None:
    conn = open_conn(autocommit=True)
    monitor = conn.context.plugin_state["failover"].monitor
    assert monitor is not None
    assert monitor.wait_for_writer(10) is not None  # running and found the (only) writer
    conn.close()
    deadline = time.monotonic() + 15
    while not monitor.retired and time.monotonic() < deadline:
        time.sleep(0.05)
    assert monitor.retired
    assert monitor not in monitors.all()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_starts_without_the_parents_monitor(open_conn: Open) -> None:
    conn = open_conn(autocommit=True)
    assert monitors.all()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, never run pytest machinery
        os.close(read)
        os.write(write, str(len(monitors.all())).encode())
        os._exit(0)
    os.close(write)
    seen = os.read(read, 16).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert seen == "0"
    # The parent's monitor and connection are untouched by the child's exit.
    assert monitors.all()
    cur = conn.cursor()
    cur.execute("SELECT 1")
    assert cur.fetchall() == [(1,)]


def test_an_open_connection_with_a_running_monitor_does_not_block_interpreter_exit(
    engine: str, names: tuple[str, str]
) -> None:
    from local_servers import ENGINES

    _, port, base = ENGINES[engine]
    target = "psycopg.Connection.connect" if engine == "pg" else "mysql.connector.connect"
    module = "psycopg" if engine == "pg" else "mysql.connector"
    script = textwrap.dedent(f"""
        import {module}, sturdydb
        from sturdydb_failover import monitors
        for name in {list(names)!r}:
            sturdydb.map_host(name, "127.0.0.1", {port})
        conn = sturdydb.connect({target}, host={",".join(names)!r}, port={port}, plugins="failover", **{base!r})
        assert monitors.all()[0].wait_for_writer(10) is not None
        print("ready", flush=True)
    """)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ready"
    assert time.monotonic() - started < 30


def test_a_pipeline_that_is_gone_stops_receiving_topology_changes() -> None:
    received: list[object] = []

    class Hook:
        def sturdydb_host_list_changed(self, topology: object, changes: object) -> None:
            received.append(changes)

    class FakePipeline:
        hook = Hook()
        codes = ("fake",)

    topology = ClusterTopology("weak-listener-test")
    pipeline = FakePipeline()
    topology.subscribe(cast("Any", pipeline))  # what the core does at connect
    topology.update([HostInfo("h1", 5432, HostRole.WRITER)])
    assert len(received) == 1
    del pipeline
    gc.collect()
    assert topology._listeners == []  # not kept alive by the listener, and unregistered
    topology.update([HostInfo("h2", 5432, HostRole.WRITER)])
    assert len(received) == 1


def test_a_failure_after_the_driver_connected_closes_the_connection(
    open_conn: Open, monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Any] = []

    def fail(self: FailoverPlugin, ctx: Any, state: Any, raw: Any, *args: Any) -> Any:
        seen.append(raw)
        raise RuntimeError("the topology read failed")

    monkeypatch.setattr(FailoverPlugin, "_after_connect", fail)
    with pytest.raises(RuntimeError, match="topology read failed"):
        open_conn(autocommit=True)
    assert len(seen) == 1
    raw = seen[0]
    assert raw.closed if hasattr(raw, "pgconn") else not raw.is_connected()


def test_the_monitor_restarts_after_an_unexpected_error_and_finds_the_writer_again(
    open_conn: Open, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sturdydb_failover.monitor import TopologyMonitor

    conn = open_conn(autocommit=True)
    monitor = conn.context.plugin_state["failover"].monitor
    assert monitor is not None
    assert monitor.wait_for_writer(10) is not None
    original = TopologyMonitor._poll_writer
    failures = iter([True])

    def broken_once(self: TopologyMonitor) -> None:
        if next(failures, False):
            raise RuntimeError("injected failure")
        original(self)

    monkeypatch.setattr(TopologyMonitor, "_poll_writer", broken_once)
    since = time.monotonic()
    monitor.request_refresh()
    assert monitor.wait_for_writer(20, since=since) is not None  # verified again after the restart
    assert monitor._runner.restarts == 1
    assert not monitor.retired and monitor in monitors.all()
