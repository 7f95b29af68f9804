"""The Limitless emulation: every router answers the router function with the same list and
loads, serves the same database, and a killed router refuses connections."""

from __future__ import annotations

import psycopg
import pytest
from conftest import query

from sturdydb_testing import LimitlessCluster

ROUTERS = "SELECT router_endpoint, load FROM pg_catalog.aurora_limitless_router_endpoints()"


def _connect(cluster: LimitlessCluster, address: str, port: int) -> psycopg.Connection[tuple[object, ...]]:
    kwargs = {**cluster.address_kwargs(cluster.writer), "host": address, "port": port}
    return psycopg.connect(**kwargs, connect_timeout=3, autocommit=True)


def test_every_router_lists_every_router_with_its_load(limitless_cluster: LimitlessCluster) -> None:
    limitless_cluster.set_load("router-2", 0.75)
    expected = sorted((r.address, 0.75 if r.name == "router-2" else 0.0) for r in limitless_cluster.routers)
    for router in limitless_cluster.routers:
        with _connect(limitless_cluster, router.address, router.port) as conn:
            assert sorted((a, float(load)) for a, load in query(conn, ROUTERS)) == expected
    assert len(expected) == 3


def test_all_routers_serve_the_same_database(limitless_cluster: LimitlessCluster) -> None:
    first, second = limitless_cluster.routers[:2]
    with _connect(limitless_cluster, first.address, first.port) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS lim_probe (id int)")
        conn.execute("INSERT INTO lim_probe VALUES (7)")
    with _connect(limitless_cluster, second.address, second.port) as conn:
        assert (7,) in query(conn, "SELECT id FROM lim_probe")
        conn.execute("DROP TABLE lim_probe")


def test_a_killed_router_refuses_connections_but_stays_listed(limitless_cluster: LimitlessCluster) -> None:
    dead = limitless_cluster.kill_router("router-1")
    with pytest.raises(psycopg.OperationalError):
        _connect(limitless_cluster, dead.address, dead.port)
    alive = limitless_cluster.routers[1]
    with _connect(limitless_cluster, alive.address, alive.port) as conn:
        assert dead.address in {a for a, _ in query(conn, ROUTERS)}
    limitless_cluster.remove_router(dead)
    with _connect(limitless_cluster, alive.address, alive.port) as conn:
        assert dead.address not in {a for a, _ in query(conn, ROUTERS)}
