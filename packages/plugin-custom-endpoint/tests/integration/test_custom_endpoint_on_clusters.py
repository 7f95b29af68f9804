"""Connections to a custom endpoint stay within its members: at connect, in failover, and when
the members change (both engines, RDS API emulated on loopback)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from conftest import connect, instance_id

import sturdydb
from sturdydb_testing import Cluster
from sturdydb_testing.aws import MotoServer


def _ident() -> str:
    return f"ce-{uuid.uuid4().hex[:8]}"


def test_failover_from_a_member_goes_to_another_member_not_to_the_nearest_reader(
    aurora_cluster: Cluster, custom_endpoint: Any, aws_env: MotoServer,
) -> None:
    reader, other_reader = aurora_cluster.readers[0], aurora_cluster.readers[1]
    writer = aurora_cluster.writer
    assert writer is not None
    # Unrestricted reader_or_writer failover tries the other reader first; the members are
    # this reader and the writer, so the writer is the only allowed target.
    endpoint = custom_endpoint(_ident(), [reader, writer])
    conn = connect(aurora_cluster, endpoint, failover_mode="reader_or_writer")
    for _ in range(4):
        if instance_id(conn, aurora_cluster) == reader.name:
            break
        conn.close()  # the endpoint's "DNS" alternates between its members
        conn = connect(aurora_cluster, endpoint, failover_mode="reader_or_writer")
    assert instance_id(conn, aurora_cluster) == reader.name
    assert aws_env.count("DescribeDBClusterEndpoints") >= 1  # the members came from the RDS API
    aurora_cluster.kill(reader)
    with pytest.raises(sturdydb.FailoverSuccessError):
        conn.cursor().execute("SELECT 1")
    assert instance_id(conn, aurora_cluster) == writer.name != other_reader.name
    conn.close()


def test_failover_fails_rather_than_leave_the_members(aurora_cluster: Cluster, custom_endpoint: Any) -> None:
    only = aurora_cluster.readers[0]
    endpoint = custom_endpoint(_ident(), [only])
    conn = connect(aurora_cluster, endpoint, failover_mode="reader_or_writer", failover_timeout_sec=2)
    assert instance_id(conn, aurora_cluster) == only.name
    aurora_cluster.kill(only)
    with pytest.raises(sturdydb.FailoverFailedError):
        conn.cursor().execute("SELECT 1")
    conn.close()


def test_a_member_change_applies_to_the_next_failover(
    aurora_cluster: Cluster, custom_endpoint: Any, aws_env: MotoServer,
) -> None:
    first, second = aurora_cluster.readers[0], aurora_cluster.readers[1]
    identifier = _ident()
    endpoint = custom_endpoint(identifier, [first])
    conn = connect(aurora_cluster, endpoint, failover_mode="strict_reader", failover_timeout_sec=20)
    assert instance_id(conn, aurora_cluster) == first.name
    aws_env.client("rds").modify_db_cluster_endpoint(DBClusterEndpointIdentifier=identifier,
                                                     StaticMembers=[first.name, second.name])
    reads = aws_env.count("DescribeDBClusterEndpoints")
    deadline = time.monotonic() + 20
    while aws_env.count("DescribeDBClusterEndpoints") < reads + 2:  # the monitor re-read them
        assert time.monotonic() < deadline
        time.sleep(0.05)
    aurora_cluster.kill(first)
    with pytest.raises(sturdydb.FailoverSuccessError):
        conn.cursor().execute("SELECT 1")
    assert instance_id(conn, aurora_cluster) == second.name
    conn.close()


def test_a_connect_to_an_unknown_custom_endpoint_fails_and_says_why(
    aurora_cluster: Cluster, aws_env: MotoServer,
) -> None:
    aws_env.cluster_endpoints.register_db_cluster(aurora_cluster.name, aurora_cluster.instance_host_pattern[2:],
                                                  [i.name for i in aurora_cluster.instances])
    host = f"nosuch.cluster-custom-{aurora_cluster.instance_host_pattern[2:]}"
    with pytest.raises(sturdydb.OperationalError) as caught:
        connect(aurora_cluster, host, wait_for_custom_endpoint_info_timeout_ms=4000)
    assert "does not know the custom endpoint 'nosuch'" in str(caught.value)


def test_writer_failover_refuses_a_writer_that_is_not_a_member(aurora_cluster: Cluster, custom_endpoint: Any) -> None:
    member = aurora_cluster.readers[0]
    endpoint = custom_endpoint(_ident(), [member])
    conn = connect(aurora_cluster, endpoint)  # strict_writer, the default for a custom endpoint
    assert instance_id(conn, aurora_cluster) == member.name
    aurora_cluster.kill(member)
    with pytest.raises(sturdydb.FailoverFailedError) as caught:
        conn.cursor().execute("SELECT 1")
    assert "not among this connection's allowed hosts" in str(caught.value)
    conn.close()


def test_read_write_splitting_reads_stay_within_the_members(aurora_cluster: Cluster, custom_endpoint: Any) -> None:
    member, outsider = aurora_cluster.readers[0], aurora_cluster.readers[1]
    writer = aurora_cluster.writer
    assert writer is not None
    endpoint = custom_endpoint(_ident(), [member, writer])
    # With pools and round_robin every switch chooses a reader again: unrestricted, the flips
    # would alternate between the two readers.
    conn = connect(aurora_cluster, endpoint, plugins="custom_endpoint,read_write_splitting,failover",
                   read_write_pools=True, reader_host_selector_strategy="round_robin")
    try:
        conn.read_only = False
        assert instance_id(conn, aurora_cluster) == writer.name
        for _ in range(4):
            conn.read_only = True
            assert instance_id(conn, aurora_cluster) == member.name != outsider.name
            conn.read_only = False
            assert instance_id(conn, aurora_cluster) == writer.name
    finally:
        conn.close()
