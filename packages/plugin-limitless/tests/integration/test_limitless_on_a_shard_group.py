"""The limitless plugin on an emulated Aurora PostgreSQL Limitless shard group (real PostgreSQL,
routers on their own loopback addresses): discovery, load-weighted choice, retry on another
router, the shared monitor's lifecycle, and writes that land exactly once."""

from __future__ import annotations

import collections
import threading
import time
import uuid
from typing import Any

import psycopg
import pytest

import sturdydb
from sturdydb_limitless import monitors
from sturdydb_testing import LimitlessCluster

pytestmark = [pytest.mark.integration, pytest.mark.pg]


def _connect(cluster: LimitlessCluster, **props: Any) -> sturdydb.Connection:
    return sturdydb.connect(psycopg.Connection.connect, plugins="limitless", autocommit=True,
                            connect_timeout=3, **cluster.connect_kwargs(), **props)


def _router_of(cluster: LimitlessCluster, conn: sturdydb.Connection) -> str:
    by_address = {r.address: r.name for r in cluster.routers}
    assert conn.host.host in by_address, f"{conn.host} is not a router"
    return by_address[conn.host.host]


def test_the_first_connect_reads_the_routers_and_moves_to_one(limitless_cluster: LimitlessCluster) -> None:
    before = {r.name: r.proxy.accepted for r in limitless_cluster.routers}
    with _connect(limitless_cluster) as conn:
        name = _router_of(limitless_cluster, conn)
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
    # The router the connection names really accepted it (through its own proxy).
    assert limitless_cluster.router(name).proxy.accepted > before[name]
    [monitor] = monitors()
    assert {h.host for h in monitor.routers} == {r.address for r in limitless_cluster.routers}
    thread = monitor.thread.thread
    assert thread is not None and thread.daemon and thread.name.startswith("sturdydb-limitless-")


def test_connections_go_mostly_to_the_least_loaded_router(limitless_cluster: LimitlessCluster) -> None:
    limitless_cluster.set_load("router-1", 0.95)  # weight 1
    limitless_cluster.set_load("router-2", 0.95)  # weight 1
    limitless_cluster.set_load("router-3", 0.05)  # weight 10
    counts: collections.Counter[str] = collections.Counter()
    for _ in range(60):
        with _connect(limitless_cluster) as conn:
            counts[_router_of(limitless_cluster, conn)] += 1
    # Expected share of router-3: 10/12. Fewer than half would happen about once in 10^9 runs.
    assert counts["router-3"] > 30, counts
    assert counts["router-3"] > counts["router-1"] + counts["router-2"], counts


def test_a_dead_router_is_skipped_and_every_acknowledged_write_lands_once(
    limitless_cluster: LimitlessCluster,
) -> None:
    table = f"lim_{uuid.uuid4().hex[:10]}"
    # The least loaded router will die while the process still believes in it.
    limitless_cluster.set_load("router-1", 0.9)
    limitless_cluster.set_load("router-2", 0.9)
    limitless_cluster.set_load("router-3", 0.0)
    with _connect(limitless_cluster) as setup:
        setup.cursor().execute(f"CREATE TABLE {table} (id int NOT NULL)")
    weights = {h.host: h.weight for h in monitors()[0].routers}
    assert sorted(weights.values()) == [1, 1, 10]
    dead = limitless_cluster.kill_router("router-3")
    acknowledged: list[int] = []
    landed: collections.Counter[str] = collections.Counter()
    for i in range(30):
        with _connect(limitless_cluster) as conn:
            landed[_router_of(limitless_cluster, conn)] += 1
            conn.cursor().execute(f"INSERT INTO {table} (id) VALUES (%s)", (i,))
            acknowledged.append(i)
    assert landed[dead.name] == 0
    assert not dead.proxy.connection_count
    assert sum(landed.values()) == 30
    with psycopg.connect(**limitless_cluster.address_kwargs(limitless_cluster.writer)) as raw:
        rows = raw.execute(f"SELECT id, count(*) FROM {table} GROUP BY id").fetchall()
    present = dict(rows)
    assert sorted(present) == acknowledged
    assert set(present.values()) == {1}


def test_every_router_down_fails_the_connect_with_the_driver_error(limitless_cluster: LimitlessCluster) -> None:
    with _connect(limitless_cluster):
        pass  # the routers are known now
    for router in limitless_cluster.routers:
        limitless_cluster.kill_router(router)
    with pytest.raises(psycopg.OperationalError):
        _connect(limitless_cluster, limitless_max_retries_ms=2000)


def test_one_monitor_per_shard_group_refreshes_loads_and_stops_on_release(
    limitless_cluster: LimitlessCluster,
) -> None:
    conns = [_connect(limitless_cluster, limitless_transaction_router_monitor_interval_ms=100) for _ in range(5)]
    try:
        assert len(monitors()) == 1
        names = [t.name for t in threading.enumerate() if t.name.startswith("sturdydb-limitless-")]
        assert len(names) == 1
        limitless_cluster.set_load("router-2", 0.55)  # weight 5
        router_2 = limitless_cluster.router("router-2").address
        deadline = time.monotonic() + 10
        while {h.host: h.weight for h in monitors()[0].routers}.get(router_2) != 5:
            assert time.monotonic() < deadline, "the monitor never refreshed the load"
            time.sleep(0.05)
    finally:
        for conn in conns:
            conn.close()
    monitor = monitors()[0]
    sturdydb.release_resources()
    assert monitor.thread.stop(timeout=5)


def test_an_unused_monitor_stops_after_its_disposal_time(limitless_cluster: LimitlessCluster) -> None:
    with _connect(limitless_cluster, limitless_transaction_router_monitor_interval_ms=100,
                  limitless_transaction_router_monitor_disposal_time_ms=1000):
        pass
    monitor = monitors()[0]
    deadline = time.monotonic() + 10
    while monitor.thread.running:
        assert time.monotonic() < deadline, "the monitor outlived its disposal time"
        time.sleep(0.1)
    assert monitor.routers == []  # forgotten with it


def test_without_waiting_the_first_connection_stays_and_later_ones_use_the_routers(
    limitless_cluster: LimitlessCluster,
) -> None:
    props = {"limitless_wait_for_transaction_router_info": False,
             "limitless_transaction_router_monitor_interval_ms": 100}
    with _connect(limitless_cluster, **props) as first:
        assert first.host.host == limitless_cluster.shard_group_host  # not moved
        monitor = monitors()[0]
        assert monitor.wait_for_routers(10), "the monitor never read the routers"
        with _connect(limitless_cluster, **props) as second:
            _router_of(limitless_cluster, second)
