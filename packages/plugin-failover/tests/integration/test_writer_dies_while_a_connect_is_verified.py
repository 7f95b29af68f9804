"""A writer that dies after accepting a connection and before answering the queries that verify
it (role, dialect) is a connect failure like a refused one: a connect the shared topology routed
goes on to the new writer instead of raising the driver's error.

Found through Django on psycopg2 (a thread's first connect landed in that gap during a writer
kill); it holds for every driver. A small plugin inside failover's connect wrapper starts the
failover the moment the driver returns the new connection, so the gap is hit every time.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Generator, Iterator
from typing import Any, ClassVar

import pytest
from scenario_helpers import connect, fail_over, instance_id

import sturdydb
from sturdydb import ConnectRequest, Plugin, hookimpl
from sturdydb_testing import Cluster, Instance
from sturdydb_testing.drivers import Driver
from sturdydb_testing.pytest_plugin import every_driver


class FailOverOnConnect(Plugin):
    """Starts the failover of ``cluster`` right after the driver connected, once."""

    code: ClassVar[str] = "t_fail_over_on_connect"
    weight: ClassVar[int] = 900  # inside failover (400): sees the raw connection first
    cluster: ClassVar[Cluster | None] = None
    started: ClassVar[list[concurrent.futures.Future[Instance]]] = []

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        raw = yield
        cluster = type(self).cluster
        if request.purpose == "connect" and cluster is not None and not self.started:
            self.started.append(fail_over(cluster))
        return raw


@pytest.fixture
def fail_over_on_connect() -> Iterator[type[FailOverOnConnect]]:
    sturdydb.register_plugin(FailOverOnConnect)
    FailOverOnConnect.started.clear()
    try:
        yield FailOverOnConnect
    finally:
        FailOverOnConnect.cluster = None
        sturdydb.unregister_plugin(FailOverOnConnect.code)


@every_driver
def test_a_routed_connect_whose_writer_dies_before_verification_reaches_the_new_writer(
    aurora_cluster: Cluster, dbapi_driver: Driver, fail_over_on_connect: type[FailOverOnConnect]
) -> None:
    first = connect(aurora_cluster, driver=dbapi_driver)  # the topology is known from now on
    old = aurora_cluster.writer
    assert old is not None and instance_id(first, aurora_cluster) == old.name
    fail_over_on_connect.cluster = aurora_cluster
    conn = connect(aurora_cluster, driver=dbapi_driver,
                   plugins=f"aurora_connection_tracker,failover,{fail_over_on_connect.code}")
    try:
        assert fail_over_on_connect.started, "the failover was not started inside the connect"
        new = fail_over_on_connect.started[0].result(60)
        assert new.name != old.name
        assert instance_id(conn, aurora_cluster) == new.name
    finally:
        conn.close()
        first.close()
