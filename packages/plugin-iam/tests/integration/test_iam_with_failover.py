"""IAM with failover on real clusters, through each of the four drivers: the connection opened
after failover logs in with IAM again.

Every instance host name and the cluster endpoint of a ``sturdydb_testing`` cluster are
pinned to an RDS-like front that only accepts valid IAM tokens for that host and logs in to
the instance (through its fault proxy) as the cluster's application user. After a real
failover the failover plugin's new connection to the promoted writer must present a token
signed for that writer's host name.
"""

from __future__ import annotations

from typing import Any

import pytest

import sturdydb
import sturdydb_aws as aws
from sturdydb_testing import Cluster
from sturdydb_testing.aws import ACCESS_KEY, REGION, SECRET_KEY
from sturdydb_testing.drivers import Driver
from sturdydb_testing.iam_front import AuthFront, IamTokenValidator
from sturdydb_testing.pytest_plugin import every_driver


def front_every_host(cluster: Cluster, auth_fronts: Any, validator: IamTokenValidator) -> dict[str, AuthFront]:
    fronts: dict[str, AuthFront] = {}
    targets = [(i.host, (i.address, i.port)) for i in cluster.instances]
    targets.append((cluster.cluster_host, (cluster.cluster_endpoint.address, cluster.cluster_endpoint.port)))
    for host, backend in targets:
        front = auth_fronts(cluster.engine, backend, validator, names=[host],
                            backend_password=cluster.password, name=f"iam-{host.split('.')[0]}")
        validator.add_endpoint(host, front.port)
        validator.add_endpoint(host, backend[1])
        fronts[host] = front
    return fronts


def instance_name(conn: sturdydb.Connection, engine: str) -> str:
    cur = conn.cursor()
    cur.execute("SELECT pg_catalog.aurora_db_instance_identifier()" if engine == "pg" else "SELECT @@aurora_server_id")
    row = cur.fetchall()[0]
    return str(row[0])


@pytest.mark.slow
@every_driver
def test_the_connection_after_failover_authenticates_with_iam(
    aurora_cluster: Cluster, dbapi_driver: Driver, aws_env: Any, auth_fronts: Any
) -> None:
    cluster = aurora_cluster
    # This test is about the first connect through the cluster endpoint: the topology an
    # earlier test (another driver, same cluster) taught this process would route it straight
    # to the writer instance, past the endpoint's front.
    sturdydb.reset_process_state()
    aws.clear_clients()
    validator = IamTokenValidator(credentials={ACCESS_KEY: SECRET_KEY}, region=REGION, endpoints=[],
                                  users=[cluster.user])
    fronts = front_every_host(cluster, auth_fronts, validator)
    kwargs = cluster.connect_kwargs()
    kwargs.pop("password")
    conn = sturdydb.connect(dbapi_driver.connect, plugins="failover,iam", failover_timeout_sec=60, connect_timeout=3,
                            autocommit=True, **kwargs, **dbapi_driver.options)
    assert conn.context.driver.name == dbapi_driver.name
    assert cluster.writer is not None
    old_writer = cluster.writer.name
    assert instance_name(conn, cluster.engine) == old_writer
    assert fronts[cluster.cluster_host].accepted >= 1

    new_writer = cluster.failover()
    # A plain read: by the failover plugin's read rule nothing can have been applied, so the
    # error says "safe to re-run" (a schema-qualified function call would be "outcome unknown").
    with pytest.raises(sturdydb.FailoverSuccessError):
        conn.cursor().execute("SELECT 1")
    assert instance_name(conn, cluster.engine) == new_writer.name
    # The replacement connection logged in to the new writer with a valid IAM token.
    writer_front = fronts[new_writer.host]
    assert any(a.accepted and a.tls for a in writer_front.attempts)
    assert all(a.accepted for f in fronts.values() for a in f.attempts)
    conn.close()
    sturdydb.release_resources()
