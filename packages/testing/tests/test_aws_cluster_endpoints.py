"""The emulated RDS custom endpoint API, driven by boto3 against the moto server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sturdydb_testing.aws import MotoServer

DOMAIN = "abc123.us-east-1.rds.amazonaws.com"


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with MotoServer() as running:
        yield running


@pytest.fixture
def rds(server: MotoServer) -> Any:
    server.reset()
    server.cluster_endpoints.register_db_cluster("shop", DOMAIN, ["instance-1", "instance-2", "instance-3"])
    return server.client("rds")


def test_create_describe_modify_delete_round_trip(rds: Any, server: MotoServer) -> None:
    created = rds.create_db_cluster_endpoint(DBClusterIdentifier="shop", DBClusterEndpointIdentifier="Analytics",
                                             EndpointType="READER", StaticMembers=["instance-2", "instance-3"])
    assert created["Endpoint"] == f"analytics.cluster-custom-{DOMAIN}"
    assert created["StaticMembers"] == ["instance-2", "instance-3"] and created["CustomEndpointType"] == "READER"
    found = rds.describe_db_cluster_endpoints(
        DBClusterEndpointIdentifier="analytics",
        Filters=[{"Name": "db-cluster-endpoint-type", "Values": ["custom"]}])["DBClusterEndpoints"]
    assert [(e["DBClusterEndpointIdentifier"], e["Status"], e["EndpointType"]) for e in found] == [
        ("analytics", "available", "CUSTOM")]
    rds.modify_db_cluster_endpoint(DBClusterEndpointIdentifier="analytics", StaticMembers=[],
                                   ExcludedMembers=["instance-3"])
    changed = rds.describe_db_cluster_endpoints(DBClusterIdentifier="shop")["DBClusterEndpoints"][0]
    assert changed["StaticMembers"] == [] and changed["ExcludedMembers"] == ["instance-3"]
    rds.delete_db_cluster_endpoint(DBClusterEndpointIdentifier="analytics")
    assert rds.describe_db_cluster_endpoints(DBClusterIdentifier="shop")["DBClusterEndpoints"] == []
    assert server.count("DescribeDBClusterEndpoints") == 3


def test_faults_carry_the_codes_aws_uses(rds: Any) -> None:
    errors = rds.exceptions
    with pytest.raises(errors.DBClusterNotFoundFault):
        rds.create_db_cluster_endpoint(DBClusterIdentifier="nosuch", DBClusterEndpointIdentifier="x",
                                       EndpointType="ANY")
    with pytest.raises(errors.DBInstanceNotFoundFault):
        rds.create_db_cluster_endpoint(DBClusterIdentifier="shop", DBClusterEndpointIdentifier="x",
                                       EndpointType="ANY", StaticMembers=["instance-9"])
    rds.create_db_cluster_endpoint(DBClusterIdentifier="shop", DBClusterEndpointIdentifier="x", EndpointType="ANY")
    with pytest.raises(errors.DBClusterEndpointAlreadyExistsFault):
        rds.create_db_cluster_endpoint(DBClusterIdentifier="shop", DBClusterEndpointIdentifier="x",
                                       EndpointType="ANY")
    with pytest.raises(errors.DBClusterEndpointNotFoundFault):
        rds.modify_db_cluster_endpoint(DBClusterEndpointIdentifier="y", StaticMembers=["instance-1"])


def test_other_rds_calls_still_reach_moto(rds: Any) -> None:
    assert rds.describe_db_clusters()["DBClusters"] == []  # answered by moto itself
