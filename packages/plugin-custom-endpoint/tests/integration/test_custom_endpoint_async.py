"""custom_endpoint on async connections (``sturdydb.connect_async``), both engines.

The plugin has no execute wrapper: its RDS API read and the wait for the members run in the
connect chain, which runs off the event loop, and failover (also off-loop) reads the members
it leaves behind. So it only has to be accepted by ``connect_async`` and keep failover within
the members, which this checks against the emulated RDS API.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import mysql.connector.aio
import psycopg
import pytest

import sturdydb
from sturdydb_testing import Cluster
from sturdydb_testing.aws import MotoServer
from sturdydb_testing.cluster import Endpoint


async def _connect(cluster: Cluster, endpoint: Endpoint, **props: Any) -> sturdydb.AsyncConnection:
    options: dict[str, Any] = {"plugins": "custom_endpoint,failover", "failover_timeout_sec": 20,
                               "connect_timeout": 3, "autocommit": True,
                               "custom_endpoint_info_refresh_rate_ms": 200}
    target: Callable[..., Any] = psycopg.AsyncConnection.connect
    if cluster.engine == "mysql":
        target = mysql.connector.aio.connect
        options["ssl_disabled"] = True  # the aio driver's TLS probe fails on the emulated servers
    options.update(props)
    params = cluster.connect_kwargs()
    params.update(host=endpoint.host, port=endpoint.port)
    return await sturdydb.connect_async(target, **params, **options)


async def _instance_id(conn: sturdydb.AsyncConnection, cluster: Cluster) -> str:
    cur = conn.cursor()
    await cur.execute("SELECT pg_catalog.aurora_db_instance_identifier()" if cluster.engine == "pg"
                      else "SELECT @@aurora_server_id")
    row = await cur.fetchone()
    await cur.fetchall()
    return str(row[0])


def test_async_failover_from_a_member_stays_within_the_members(
    aurora_cluster: Cluster, custom_endpoint: Any, aws_env: MotoServer,
) -> None:
    reader, other_reader = aurora_cluster.readers[0], aurora_cluster.readers[1]
    writer = aurora_cluster.writer
    assert writer is not None
    # Unrestricted reader_or_writer failover would try the other reader first; the members are
    # this reader and the writer, so the writer is the only allowed target.
    endpoint = custom_endpoint(f"ce-{uuid.uuid4().hex[:8]}", [reader, writer])

    async def scenario() -> None:
        conn = await _connect(aurora_cluster, endpoint, failover_mode="reader_or_writer")
        for _ in range(4):
            if await _instance_id(conn, aurora_cluster) == reader.name:
                break
            await conn.close()  # the endpoint's "DNS" alternates between its members
            conn = await _connect(aurora_cluster, endpoint, failover_mode="reader_or_writer")
        try:
            assert await _instance_id(conn, aurora_cluster) == reader.name
            assert aws_env.count("DescribeDBClusterEndpoints") >= 1  # the members came from the RDS API
            aurora_cluster.kill(reader)
            with pytest.raises(sturdydb.FailoverSuccessError):
                await conn.cursor().execute("SELECT 1")
            assert await _instance_id(conn, aurora_cluster) == writer.name != other_reader.name
        finally:
            await conn.close()

    asyncio.run(scenario())
