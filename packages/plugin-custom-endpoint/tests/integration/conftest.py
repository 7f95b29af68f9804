"""Fixtures for the custom endpoint scenarios: real clusters, the RDS API emulated on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import sturdydb
import sturdydb_aws as aws
from sturdydb_testing import Cluster, Instance
from sturdydb_testing.aws import MotoServer
from sturdydb_testing.aws_pytest import aws_env, moto_server  # noqa: F401
from sturdydb_testing.cluster import Endpoint


@pytest.fixture(autouse=True)
def _fresh_sturdydb_state() -> Iterator[None]:
    sturdydb.reset_process_state()
    aws.clear_clients()
    yield
    sturdydb.reset_process_state()


@pytest.fixture
def custom_endpoint(aurora_cluster: Cluster, aws_env: MotoServer) -> Iterator[Callable[..., Endpoint]]:  # noqa: F811
    """Create a custom endpoint of ``members`` in AWS (emulated) and on the network."""
    cluster = aurora_cluster
    aws_env.cluster_endpoints.register_db_cluster(cluster.name, cluster.instance_host_pattern[2:],
                                                  [i.name for i in cluster.instances])
    created: list[str] = []

    def make(identifier: str, members: list[Instance], kind: str = "ANY") -> Endpoint:
        aws_env.client("rds").create_db_cluster_endpoint(
            DBClusterIdentifier=cluster.name, DBClusterEndpointIdentifier=identifier, EndpointType=kind,
            StaticMembers=[m.name for m in members])
        endpoint = cluster.add_custom_endpoint(identifier, list(members))
        created.append(identifier)
        return endpoint

    yield make
    for identifier in created:
        endpoint = cluster.custom_endpoints.pop(identifier)
        endpoint.proxy.close()
        sturdydb.unmap_host(endpoint.host)


def driver_connect(cluster: Cluster) -> Callable[..., Any]:
    if cluster.engine == "pg":
        import psycopg

        return psycopg.Connection.connect
    import mysql.connector

    return mysql.connector.connect


def connect(cluster: Cluster, endpoint: Endpoint | str, **props: Any) -> sturdydb.Connection:
    options: dict[str, Any] = {"plugins": "custom_endpoint,failover", "failover_timeout_sec": 20,
                               "connect_timeout": 3, "autocommit": True,
                               "custom_endpoint_info_refresh_rate_ms": 200}
    if cluster.engine == "mysql":
        options["use_pure"] = True
    options.update(props)
    params = cluster.connect_kwargs()
    if isinstance(endpoint, str):
        params["host"] = endpoint
    else:
        params.update(host=endpoint.host, port=endpoint.port)
    return sturdydb.connect(driver_connect(cluster), **params, **options)


def instance_id(conn: sturdydb.Connection, cluster: Cluster) -> str:
    cur = conn.cursor()
    cur.execute("SELECT pg_catalog.aurora_db_instance_identifier()" if cluster.engine == "pg"
                else "SELECT @@aurora_server_id")
    row = cur.fetchone()
    cur.fetchall()
    return str(row[0])
