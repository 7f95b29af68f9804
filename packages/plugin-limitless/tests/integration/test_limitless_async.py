"""The limitless plugin on async connections (``sturdydb.connect_async``) on the emulated
shard group (Aurora PostgreSQL Limitless is PostgreSQL only).

The plugin has no execute wrapper: router discovery, the load-weighted choice and the retry on
another router run in the connect chain, which runs off the event loop, and its monitor reads
the routers over a sync auxiliary connection on its own thread. So it only has to be accepted
by ``connect_async`` and route async connections as it routes sync ones.
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from typing import Any

import psycopg
import pytest

import sturdydb
from sturdydb_limitless import monitors
from sturdydb_testing import LimitlessCluster

pytestmark = [pytest.mark.integration, pytest.mark.pg]


async def _connect(cluster: LimitlessCluster, **props: Any) -> sturdydb.AsyncConnection:
    return await sturdydb.connect_async(psycopg.AsyncConnection.connect, plugins="limitless", autocommit=True,
                                        connect_timeout=3, **cluster.connect_kwargs(), **props)


def test_async_connects_skip_a_dead_router_and_writes_land_once(limitless_cluster: LimitlessCluster) -> None:
    table = f"lim_{uuid.uuid4().hex[:10]}"
    by_address = {r.address: r.name for r in limitless_cluster.routers}
    # The least loaded router will die while the process still believes in it.
    limitless_cluster.set_load("router-1", 0.9)
    limitless_cluster.set_load("router-2", 0.9)
    limitless_cluster.set_load("router-3", 0.0)
    acknowledged: list[int] = []
    landed: collections.Counter[str] = collections.Counter()

    async def setup() -> None:
        conn = await _connect(limitless_cluster)
        try:
            assert conn.host.host in by_address  # moved from the shard group endpoint to a router
            await conn.cursor().execute(f"CREATE TABLE {table} (id int NOT NULL)")
        finally:
            await conn.close()

    async def writes() -> None:
        for i in range(20):
            conn = await _connect(limitless_cluster)
            try:
                landed[by_address[conn.host.host]] += 1
                await conn.cursor().execute(f"INSERT INTO {table} (id) VALUES (%s)", (i,))
                acknowledged.append(i)
            finally:
                await conn.close()

    asyncio.run(setup())
    weights = {h.host: h.weight for h in monitors()[0].routers}
    assert sorted(weights.values()) == [1, 1, 10]  # the monitor read the routers' loads
    dead = limitless_cluster.kill_router("router-3")
    asyncio.run(writes())
    assert landed[dead.name] == 0
    assert sum(landed.values()) == 20
    with psycopg.connect(**limitless_cluster.address_kwargs(limitless_cluster.writer)) as raw:
        rows = raw.execute(f"SELECT id, count(*) FROM {table} GROUP BY id").fetchall()
    present = dict(rows)
    assert sorted(present) == acknowledged
    assert set(present.values()) == {1}
