"""Secrets Manager with failover on real clusters, through each of the four drivers: the connection opened after failover takes
its credentials from the (cached) secret again, and the password is checked by the server.

Every instance host name and the cluster endpoint are pinned to a front that accepts only
the secret's user and password and then logs in to the instance as the cluster's app user.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import sturdydb
import sturdydb_aws as aws
from sturdydb_testing import Cluster
from sturdydb_testing.drivers import Driver
from sturdydb_testing.iam_front import AuthFront, PasswordCheck
from sturdydb_testing.pytest_plugin import every_driver


def instance_name(conn: sturdydb.Connection, engine: str) -> str:
    cur = conn.cursor()
    cur.execute("SELECT pg_catalog.aurora_db_instance_identifier()" if engine == "pg" else "SELECT @@aurora_server_id")
    return str(cur.fetchall()[0][0])


@pytest.mark.slow
@every_driver
def test_the_connection_after_failover_uses_the_secret_again(
    aurora_cluster: Cluster, dbapi_driver: Driver, aws_env: Any, auth_fronts: Any
) -> None:
    cluster = aurora_cluster
    aws.clear_clients()
    passwords = PasswordCheck({"vault_user": "from-the-vault-0001"})
    fronts: dict[str, AuthFront] = {}
    targets = [(i.host, (i.address, i.port)) for i in cluster.instances]
    targets.append((cluster.cluster_host, (cluster.cluster_endpoint.address, cluster.cluster_endpoint.port)))
    for host, backend in targets:
        fronts[host] = auth_fronts(cluster.engine, backend, passwords, names=[host], backend_user=cluster.user,
                                   backend_password=cluster.password, name=f"sm-{host.split('.')[0]}")
    arn = aws_env.client("secretsmanager").create_secret(
        Name=f"failover/{cluster.engine}",
        SecretString=json.dumps({"username": "vault_user", "password": "from-the-vault-0001"}))["ARN"]
    aws_env.clear_record()

    kwargs = cluster.connect_kwargs()
    kwargs.pop("password")
    kwargs.pop("user")
    extra: dict[str, Any] = {"sslmode": "require"} if cluster.engine == "pg" else {}
    extra.update(dbapi_driver.options)
    conn = sturdydb.connect(dbapi_driver.connect, plugins="failover,aws_secrets_manager", secrets_manager_secret_id=arn,
                            failover_timeout_sec=60, connect_timeout=3, autocommit=True, **kwargs, **extra)
    assert conn.context.driver.name == dbapi_driver.name
    assert cluster.writer is not None
    assert instance_name(conn, cluster.engine) == cluster.writer.name

    new_writer = cluster.failover()
    # A plain read: by the failover plugin's read rule nothing can have been applied, so the
    # error says "safe to re-run" (a schema-qualified function call would be "outcome unknown").
    with pytest.raises(sturdydb.FailoverSuccessError):
        conn.cursor().execute("SELECT 1")
    assert instance_name(conn, cluster.engine) == new_writer.name
    writer_front = fronts[new_writer.host]
    assert any(a.accepted and a.user == "vault_user" for a in writer_front.attempts)
    assert all(a.accepted for f in fronts.values() for a in f.attempts)
    assert aws_env.count("GetSecretValue") == 1  # the new connections used the cached secret
    conn.close()
    sturdydb.release_resources()
