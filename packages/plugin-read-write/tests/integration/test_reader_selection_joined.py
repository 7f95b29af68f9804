"""read_only switches choose their reader by the core's reader selection (both engines):
a really lagging replica (its apply paused) is skipped under ``max_replica_lag_ms`` and the
writer serves reads when every reader lags; ``round_robin`` flips alternate the readers;
reader failover in read-only mode follows the same rule (the writer before a lagging reader).
Each through the four drivers (``every_driver``), one after the other on the same cluster."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from rw_helpers import connect, reader_flips, wait_for, where

import sturdydb
from sturdydb_testing import Cluster, Instance
from sturdydb_testing.drivers import Driver
from sturdydb_testing.pytest_plugin import every_driver


def _lag_seen(conn: sturdydb.Connection, instance: Instance, over_ms: float) -> bool:
    host = conn.context.topology.find(instance.name)
    return host is not None and host.replica_lag_ms is not None and host.replica_lag_ms > over_ms


def _wait_until_lag_is_seen(conn: sturdydb.Connection, instance: Instance, over_ms: float) -> None:
    """Until the connection's topology (refreshed by failover's monitor) reports the lag."""
    wait_for(lambda: _lag_seen(conn, instance, over_ms), what=f"the topology to report {instance.name} lagging")


def _wait_until_caught_up(conn: sturdydb.Connection, instance: Instance, under_ms: float) -> None:
    """Until the topology no longer reports ``instance`` lagging (an earlier test's lag, cleared
    when it ended, takes a moment to drain and to reach the process's topology)."""

    def caught_up() -> bool:
        host = conn.context.topology.find(instance.name)
        return host is not None and (host.replica_lag_ms or 0.0) < under_ms

    wait_for(caught_up, what=f"{instance.name} to catch up")


def _seen(conn: sturdydb.Connection, cluster: Cluster) -> str:
    """What the choice was based on, for an assertion message: the connection's topology (lag,
    availability) and what the harness paused and published."""
    hosts = ", ".join(f"{h.host_id}:{h.role.value}:{h.replica_lag_ms}:{h.availability.value}"
                      for h in conn.context.topology.hosts)
    measured = {name: round(cluster.replica_lag_ms(name)) for name in cluster.lag.paused}
    events = [(round(e.monotonic, 2), e.kind, e.instance_name, e.detail) for e in cluster.events[-12:]]
    return (f"topology [{hosts}]; paused {sorted(cluster.lag.paused)}; published {cluster.lag.published}; "
            f"measured now {measured}; events {events}")


@every_driver
def test_read_only_skips_a_lagging_replica_and_stays_on_the_writer_when_every_reader_lags(
    aurora_cluster: Cluster, dbapi_driver: Driver,
) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    lagging, fresh = aurora_cluster.readers[0], aurora_cluster.readers[1]
    # Without a lag limit this strategy always picks the lagging replica.
    props: dict[str, Any] = {"reader_host_selector_strategy": "highest_weight",
                             "weighted_random_host_weight_pairs": f"{lagging.name}:10",
                             "topology_refresh_ms": 200, "read_write_pools": True}
    aurora_cluster.inject_replica_lag(lagging)
    try:
        unlimited = connect(aurora_cluster, driver=dbapi_driver, **props)
        _wait_until_lag_is_seen(unlimited, lagging, 1000)
        unlimited.read_only = True
        assert where(unlimited, aurora_cluster) == lagging.name  # the control: weights steer there
        unlimited.close()

        conn = connect(aurora_cluster, driver=dbapi_driver, **props, max_replica_lag_ms=500)
        _wait_until_lag_is_seen(conn, lagging, 1000)
        _wait_until_caught_up(conn, fresh, 500)
        for _ in range(3):  # with pools every switch chooses again: never the lagging one
            conn.read_only = True
            assert where(conn, aurora_cluster) == fresh.name, _seen(conn, aurora_cluster)
            conn.read_only = False
            assert where(conn, aurora_cluster) == writer.name

        aurora_cluster.inject_replica_lag(fresh)
        _wait_until_lag_is_seen(conn, fresh, 1000)
        conn.read_only = True
        assert conn.read_only
        assert conn.context.wanted_role is sturdydb.HostRole.READER
        # No reader qualifies: the writer serves.
        assert where(conn, aurora_cluster) == writer.name, _seen(conn, aurora_cluster)
        conn.close()
    finally:
        aurora_cluster.clear_replica_lag()


@every_driver
def test_round_robin_flips_alternate_the_readers(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    readers = {r.name for r in aurora_cluster.readers}
    conn = connect(aurora_cluster, driver=dbapi_driver, reader_host_selector_strategy="round_robin", read_write_pools=True)
    try:
        seen = reader_flips(conn, aurora_cluster, 6)
        assert set(seen) == readers
        assert all(a != b for a, b in pairwise(seen)), seen
    finally:
        conn.close()


@every_driver
def test_without_pools_the_kept_reader_serves_every_flip(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver, reader_host_selector_strategy="round_robin")
    try:
        seen = set(reader_flips(conn, aurora_cluster, 4))
        assert len(seen) == 1 and seen <= {r.name for r in aurora_cluster.readers}
    finally:
        conn.close()


@every_driver
def test_a_failed_reader_in_read_only_mode_is_replaced_by_the_writer_not_a_lagging_reader(
    aurora_cluster: Cluster, dbapi_driver: Driver,
) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    lagging, fresh = aurora_cluster.readers[0], aurora_cluster.readers[1]
    aurora_cluster.inject_replica_lag(lagging)
    try:
        conn = connect(aurora_cluster, driver=dbapi_driver, max_replica_lag_ms=500, topology_refresh_ms=200)
        _wait_until_lag_is_seen(conn, lagging, 1000)
        conn.read_only = True
        assert where(conn, aurora_cluster) == fresh.name  # the only qualifying reader
        aurora_cluster.kill(fresh)
        with pytest.raises(sturdydb.FailoverSuccessError):
            conn.cursor().execute("SELECT 1")  # a read: safe to run again
        # Reader failover follows the same rule: the writer before a lagging reader.
        assert where(conn, aurora_cluster) == writer.name
        assert conn.read_only
        conn.close()
    finally:
        aurora_cluster.clear_replica_lag()
