"""The shared monitor recovers: wrong probe credentials, several plain hosts, a stopped monitor.

Each test names the failure it guards against: a probe that cannot log in must not be
restarted every tick (it would lock the account and flood the log), a cluster of plain hosts
must be able to fail over more than once, and a connection whose monitor was stopped
(``sturdydb.release_resources()``, a catalog reload) must still fail over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from local_servers import ENGINES, break_connection

import sturdydb
from sturdydb_failover import monitors

Open = Callable[..., sturdydb.Connection]


def test_a_probe_that_cannot_log_in_is_not_restarted_every_tick(
    open_conn: Open, engine: str, caplog: pytest.LogCaptureFixture,
) -> None:
    # PostgreSQL trusts every existing role here, so a missing role is the login failure;
    # MariaDB's root has no password, so a wrong one is.
    bad = {"topology-monitoring-user": "no_such_role_x"} if engine == "pg" else {
        "topology-monitoring-password": "wrong-password"}
    caplog.set_level(logging.DEBUG, logger="sturdydb.failover.monitor")
    conn = open_conn(autocommit=True, cluster_topology_high_refresh_rate_ms=20, **bad)
    monitor = conn.context.plugin_state["failover"].monitor
    assert monitor is not None
    time.sleep(1.5)  # 75 panic ticks at 20 ms
    # One failed login per host, not one per tick.
    assert monitor.probe_connects == 2, monitor.probe_connects
    warnings = [r for r in caplog.records if "cannot log in" in r.getMessage() and r.levelno >= logging.WARNING]
    assert len(warnings) == 2, [r.getMessage() for r in warnings]
    assert monitor.writer is None
    # The application's own connection is unaffected.
    cur = conn.cursor()
    cur.execute("SELECT 1")
    assert cur.fetchall() == [(1,)]


def test_several_plain_hosts_fail_over_again_and_again(open_conn: Open, engine: str) -> None:
    port = ENGINES[engine][1]
    conn = open_conn(autocommit=True, connect_timeout=1, failover_timeout_sec=10)
    state = conn.context.plugin_state["failover"]
    assert state.monitor is not None
    first = state.monitor.wait_for_writer(10)
    assert first is not None
    hosts = [h.host for h in conn.context.hosts]
    other = next(h for h in hosts if h != first.host)
    cur = conn.cursor()
    # Each round the verified writer's name leads nowhere (its open connections still work,
    # as with a host that just died); the failover must find the other name.
    for dead, alive in ((first.host, other), (other, first.host)):
        sturdydb.map_host(alive, "127.0.0.1", port)
        sturdydb.map_host(dead, "127.0.0.1", 9)  # a closed port
        break_connection(conn)
        with pytest.raises(sturdydb.FailoverSuccessError):
            cur.execute("SELECT 1")
        assert conn.context.host.host == alive
        cur.execute("SELECT 2")
        assert cur.fetchall() == [(2,)]
    assert state.failovers == 2


def test_a_connection_whose_monitor_was_released_still_fails_over(open_conn: Open) -> None:
    conn = open_conn(autocommit=True)
    state = conn.context.plugin_state["failover"]
    old = state.monitor
    assert old is not None and old.wait_for_writer(10) is not None
    sturdydb.release_resources()  # stops every monitor, as a catalog reload also does
    assert old.retired
    cur = conn.cursor()
    break_connection(conn)
    with pytest.raises(sturdydb.FailoverSuccessError):
        cur.execute("SELECT 1")
    cur.execute("SELECT 3")
    assert cur.fetchall() == [(3,)]
    assert state.monitor is not old and not state.monitor.retired
    assert state.monitor in monitors.all()
