"""Endpoints that are not RDS-shaped names: an IP address, an application's own DNS name.

The first connection through such a name reaches some instance; the name is no instance of
the cluster, so sturdydb remembers it as a writer-like (or reader-like) endpoint of that cluster.
After a writer failover, while "DNS" still points the name at the dead writer (the cluster
endpoint's DNS delay), a new connection through the name reaches the new writer at once, by
the shared topology, exactly as one through the RDS cluster endpoint does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from scenario_helpers import driver_connect, fail_over, instance_id

import sturdydb
from sturdydb_failover.plugin import remembered_endpoints
from sturdydb_testing import Cluster

CUSTOM_NAME = "db.internal.test"


@pytest.fixture
def custom_name(aurora_cluster: Cluster) -> Iterator[str]:
    """The application's own name for the cluster endpoint (a CNAME, in production)."""
    sturdydb.map_host(CUSTOM_NAME, aurora_cluster.cluster_endpoint.address)
    yield CUSTOM_NAME
    sturdydb.unmap_host(CUSTOM_NAME)


def _connect(cluster: Cluster, host: str, **props: object) -> sturdydb.Connection:
    kwargs = cluster.connect_kwargs()
    kwargs.update(host=host, port=cluster.cluster_endpoint.port)
    options: dict[str, object] = {
        "plugins": "failover", "failover_timeout_sec": 60, "connect_timeout": 3,
        "autocommit": True,
        # Neither an IP address nor a custom name says where the instances are: the reference
        # requires this property for them as well.
        "cluster_instance_host_pattern": cluster.instance_host_pattern,
    }
    if cluster.engine == "mysql":
        options["use_pure"] = True
    options.update(props)
    return sturdydb.connect(driver_connect(cluster), **kwargs, **options)


@pytest.mark.parametrize("style", ["ip", "custom_name"])
def test_an_endpoint_of_any_name_reaches_the_new_writer_without_waiting_for_dns(
    aurora_cluster: Cluster, style: str, request: pytest.FixtureRequest,
) -> None:
    host = (aurora_cluster.cluster_endpoint.address if style == "ip"
            else request.getfixturevalue("custom_name"))
    first = _connect(aurora_cluster, host)
    old_writer = aurora_cluster.writer
    assert old_writer is not None
    assert instance_id(first, aurora_cluster) == old_writer.name
    learnt = {key[1]: kind for key, kind in remembered_endpoints().items()}
    assert learnt == {host.lower(): "writer"}

    future = fail_over(aurora_cluster)
    new = future.result(60)
    assert aurora_cluster.cluster_endpoint.has_pending_change  # "DNS" still names the dead writer
    started = time.monotonic()
    again = _connect(aurora_cluster, host)
    took = time.monotonic() - started
    try:
        assert instance_id(again, aurora_cluster) == new.name
        # Routed by the topology: the DNS delay (seconds) did not have to pass.
        assert aurora_cluster.cluster_endpoint.has_pending_change, f"took {took:.2f} s"
        cur = again.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
    finally:
        again.close()
        first.close()


def test_endpoint_kind_instance_is_never_routed_or_remembered(
    aurora_cluster: Cluster, custom_name: str,
) -> None:
    conn = _connect(aurora_cluster, custom_name, endpoint_kind="instance")
    try:
        assert instance_id(conn, aurora_cluster) == aurora_cluster.writer.name  # type: ignore[union-attr]
        assert remembered_endpoints() == {}
    finally:
        conn.close()


def test_endpoint_kind_reader_declares_a_reader_endpoint(
    aurora_cluster: Cluster, custom_name: str,
) -> None:
    """A name declared as a reader endpoint is routed to a topology reader, though it points
    at the writer (once the topology is known: the first connection taught it)."""
    first = _connect(aurora_cluster, custom_name)
    first.close()
    conn = _connect(aurora_cluster, custom_name, endpoint_kind="reader")
    try:
        assert instance_id(conn, aurora_cluster) in {r.name for r in aurora_cluster.readers}
    finally:
        conn.close()
