"""The cluster and reader endpoints reach the right instances and follow a failover after the DNS delay."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from conftest import instance_id_sql, query, raw_connect

import sturdydb
from sturdydb_testing import Cluster


def _reached(cluster: Cluster, endpoint: str) -> str | None:
    try:
        conn = raw_connect(cluster, endpoint, timeout=2)
    except Exception:
        return None
    try:
        return str(query(conn, instance_id_sql(cluster))[0][0])
    finally:
        conn.close()


@pytest.fixture
def short_dns(aurora_cluster: Cluster) -> Iterator[Cluster]:
    saved = aurora_cluster.dns_delay
    aurora_cluster.dns_delay = 1.5
    yield aurora_cluster
    aurora_cluster.dns_delay = saved


def test_endpoints_reach_the_writer_and_the_readers(aurora_cluster: Cluster) -> None:
    assert aurora_cluster.writer is not None
    assert _reached(aurora_cluster, "cluster") == aurora_cluster.writer.name
    readers = {_reached(aurora_cluster, "reader") for _ in range(6)}
    assert readers == {r.name for r in aurora_cluster.readers}


def test_aurora_names_are_pinned_to_loopback_addresses(aurora_cluster: Cluster) -> None:
    for instance in aurora_cluster.instances:
        assert sturdydb.resolve_host(instance.host) == sturdydb.PinnedAddress(
            instance.address, instance.port
        )
        assert instance.address.startswith("127.") and instance.address != "127.0.0.1"
    pinned = sturdydb.resolve_host(aurora_cluster.cluster_host)
    assert pinned is not None and pinned.address == aurora_cluster.cluster_endpoint.address
    assert aurora_cluster.instance_host_pattern.replace("?", "instance-1") == aurora_cluster.instances[0].host
    assert (
        aurora_cluster.cluster_host.endswith(".us-east-1.rds.amazonaws.com")
        and ".cluster-" in aurora_cluster.cluster_host
    )
    assert ".cluster-ro-" in aurora_cluster.reader_host


def test_the_cluster_endpoint_follows_the_new_writer_only_after_the_dns_delay(short_dns: Cluster) -> None:
    cluster = short_dns
    new = cluster.failover(promote_delay=0)
    promoted = cluster.event_log.last("promote")
    assert promoted is not None
    # Right after the promotion "DNS" still names the dead old writer.
    assert _reached(cluster, "cluster") is None
    deadline = time.monotonic() + 30
    while _reached(cluster, "cluster") != new.name:
        assert time.monotonic() < deadline, "the cluster endpoint never followed the new writer"
        time.sleep(0.1)
    followed = cluster.event_log.last("endpoint_follow")
    assert followed is not None and followed.monotonic - promoted.monotonic >= cluster.dns_delay * 0.9
