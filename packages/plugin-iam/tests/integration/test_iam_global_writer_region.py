"""IAM region lookup for an Aurora Global Database writer endpoint: DescribeGlobalClusters
against moto (boto3 on loopback), the writer member's region, refused clearly when unknown."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

import sturdydb
import sturdydb_aws as aws
from sturdydb_iam.global_region import global_writer_region
from sturdydb_testing.aws import ACCESS_KEY, REGION, SECRET_KEY, MotoServer
from sturdydb_testing.iam_front import IamTokenValidator

pytestmark = pytest.mark.integration


def _global_database(moto: MotoServer, writer_region: str, secondary_region: str) -> str:
    """A global cluster with a writer cluster and a secondary cluster; its writer endpoint."""
    writer: Any = moto.client("rds", writer_region)
    writer.create_global_cluster(GlobalClusterIdentifier="orders", Engine="aurora-postgresql",
                                 EngineVersion="15.4")
    writer.create_db_cluster(DBClusterIdentifier="orders-a", Engine="aurora-postgresql",
                             EngineVersion="15.4", GlobalClusterIdentifier="orders",
                             MasterUsername="app", MasterUserPassword="not-a-secret-1")
    moto.client("rds", secondary_region).create_db_cluster(
        DBClusterIdentifier="orders-b", Engine="aurora-postgresql", EngineVersion="15.4",
        GlobalClusterIdentifier="orders")
    described = writer.describe_global_clusters(GlobalClusterIdentifier="orders")["GlobalClusters"][0]
    return str(described["Endpoint"])


@pytest.mark.parametrize(("writer_region", "secondary_region"), [("eu-west-1", "us-east-1"),
                                                                  ("ap-south-1", "eu-west-1")])
def test_the_writer_clusters_region_signs_tokens_for_the_global_endpoint(
    aws_env: MotoServer, writer_region: str, secondary_region: str,
) -> None:
    sturdydb.reset_process_state()
    endpoint = _global_database(aws_env, writer_region, secondary_region)
    assert ".global-" in endpoint
    assert global_writer_region(endpoint, None) == writer_region


def test_an_unknown_global_database_names_the_property_to_set(aws_env: MotoServer) -> None:
    sturdydb.reset_process_state()
    with pytest.raises(sturdydb.ConfigurationError, match="set iam_region"):
        global_writer_region("missing.global-abcdef123456.global.rds.amazonaws.com", None)


def test_a_connect_through_the_global_endpoint_is_accepted_by_an_rds_like_front(
    aws_env: MotoServer, auth_fronts: Any,
) -> None:
    sturdydb.reset_process_state()
    aws.clear_clients()
    endpoint = _global_database(aws_env, REGION, "eu-west-1")
    validator = IamTokenValidator(credentials={ACCESS_KEY: SECRET_KEY}, region=REGION, endpoints=[],
                                  users=["postgres"])
    front = auth_fronts("pg", ("127.0.0.1", 5432), validator, names=[endpoint], require_tls=True)
    validator.add_endpoint(endpoint, front.port)
    try:
        # No iam_region: the front accepts only a token signed for the writer's region.
        with sturdydb.connect(psycopg.Connection.connect, host=endpoint, user="postgres", dbname="test",
                              plugins="iam", connect_timeout=10) as conn:
            cur = conn.cursor()
            cur.execute("SELECT 1")
            assert cur.fetchall() == [(1,)]
        (attempt,) = front.attempts
        assert attempt.accepted
    finally:
        aws.clear_clients()
        sturdydb.release_resources()
