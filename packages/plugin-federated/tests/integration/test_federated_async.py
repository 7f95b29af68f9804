"""ADFS and Okta federation for async connections (``sturdydb.connect_async``), both engines.

The plugins are unchanged: an async connection's connect chain runs off the event loop, so the
IdP sign-in (HTTPS), the STS call and the token signing never block the loop, and the
single-flight caches make one sign-in for many concurrent cold connects.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import mysql.connector.aio
import psycopg
import pytest

import sturdydb

PLUGINS = ["federated_auth", "okta"]


async def _connect(fed_db: Any, plugin: str) -> sturdydb.AsyncConnection:
    options = fed_db.options(plugin)
    options.pop("use_pure", None)
    target = psycopg.AsyncConnection.connect if fed_db.engine == "pg" else mysql.connector.aio.connect
    return await sturdydb.connect_async(target, **options)


@pytest.mark.parametrize("plugin", PLUGINS)
def test_concurrent_async_connects_sign_in_once_and_the_loop_keeps_running(
    fed_db: Any, plugin: str, token_spy: list[str],
) -> None:
    async def scenario() -> list[float]:
        ticks: list[float] = []
        done = asyncio.Event()

        async def tick() -> None:
            while not done.is_set():
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        ticker = asyncio.get_running_loop().create_task(tick())
        conns = await asyncio.gather(*(_connect(fed_db, plugin) for _ in range(5)))
        for conn in conns:
            cur = conn.cursor()
            await cur.execute("SELECT 1")
            assert await cur.fetchall() == [(1,)]
            await conn.close()
        done.set()
        await ticker
        return ticks

    ticks = asyncio.run(scenario())
    assert fed_db.front.accepted == 5
    assert all(a.tls and a.user == fed_db.user for a in fed_db.front.attempts)
    assert fed_db.sts_calls() == 1  # one sign-in and one STS call for five cold connects
    assert len(token_spy) == 1
    assert len(ticks) >= 2
