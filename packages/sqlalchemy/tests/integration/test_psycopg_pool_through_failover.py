"""psycopg_pool with sturdydb connections (the recipe of docs/frameworks-pools.md): after a
writer failover, the pool hands out only connections to the new writer."""

from __future__ import annotations

import time

import pytest
from orm_workload import start_failover
from pool_recipe import SturdyPoolConnection
from psycopg_pool import ConnectionPool

import sturdydb
from sturdydb_testing import Cluster

PROPS = {"plugins": "aurora_connection_tracker,failover,host_monitoring", "failover_timeout_sec": 60,
         "connect_timeout": 3, "socket_timeout": 2, "autocommit": True}


def _node(conn: sturdydb.Connection) -> str:
    return str(conn.execute("SELECT pg_catalog.aurora_db_instance_identifier()").fetchone()[0])


def test_the_pool_reuses_its_connections(pg_cluster: Cluster) -> None:
    # pool.connection() runs "with conn": the recipe's connection must not close there.
    with ConnectionPool(pg_cluster.conninfo(), connection_class=SturdyPoolConnection,
                        kwargs={**PROPS, "autocommit": False}, min_size=1, max_size=1, open=True,
                        timeout=30) as pool:
        pool.wait(30)
        seen = []
        for _ in range(3):
            with pool.connection() as conn:
                conn.execute("SELECT 1")  # leaves a transaction open: the exit commits it
                seen.append((id(conn), conn.info.backend_pid))
            assert not conn.closed
        assert len(set(seen)) == 1, seen
        assert pool.get_stats().get("connections_num") == 1
        with pytest.raises(ZeroDivisionError), pool.connection() as conn:
            conn.execute("SELECT 1")
            raise ZeroDivisionError  # the exit rolls back, the connection stays pooled
        with pool.connection() as conn:
            assert (id(conn), conn.info.backend_pid) == seen[0]
    assert conn.closed  # closing the pool closes it


@pytest.mark.parametrize("old_writer", ["kill", "freeze"])
def test_pool_hands_out_only_new_writer_connections_after_failover(pg_cluster: Cluster, old_writer: str) -> None:
    old = pg_cluster.writer
    assert old is not None
    with ConnectionPool(pg_cluster.conninfo(), connection_class=SturdyPoolConnection, kwargs=PROPS,
                        min_size=4, max_size=4, check=ConnectionPool.check_connection, open=True,
                        timeout=30) as pool:
        pool.wait(30)
        held = [pool.getconn() for _ in range(4)]  # every pooled connection is on the old writer
        assert all(isinstance(c, sturdydb.Connection) for c in held)
        assert {_node(c) for c in held} == {old.name}
        for c in held:
            pool.putconn(c)
        new = start_failover(pg_cluster, old_writer).result(60)
        # Once the promoted replica is the writer, every connection the pool hands out goes to
        # it: check_connection runs each idle connection's "" on checkout, which fails over (or
        # fails, and the pool replaces the connection) before the application sees it.
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while len(seen) < 12:
            assert time.monotonic() < deadline, f"the pool did not recover: {seen}"
            with pool.connection() as conn:
                seen.append(_node(conn))
        assert set(seen) == {new.name}, seen


def test_without_check_the_first_statement_gets_the_failover_error(pg_cluster: Cluster) -> None:
    # Why the recipe insists on check=: without it, an idle pooled connection to the old writer
    # is handed out as is, and the application's first statement on it fails over.
    with ConnectionPool(pg_cluster.conninfo(), connection_class=SturdyPoolConnection, kwargs=PROPS,
                        min_size=1, max_size=1, open=True, timeout=30) as pool:
        pool.wait(30)
        new = start_failover(pg_cluster, "kill").result(60)
        with pool.connection() as conn:
            # A SELECT of a function may write, as far as sturdydb knows: 08007, not 08S02.
            with pytest.raises(sturdydb.FailoverError):
                _node(conn)
            assert _node(conn) == new.name  # the same connection, now on the new writer
