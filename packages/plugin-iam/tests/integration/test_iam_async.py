"""IAM authentication for async connections (``sturdydb.connect_async``), both engines.

The plugin is unchanged: an async connection's connect chain runs off the event loop, so
signing the token (and any credential lookup by boto3) never blocks the loop, and the
token cache serves sync and async connections alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import mysql.connector.aio
import psycopg
from conftest import CLUSTER_HOST, IamDatabase

import sturdydb


async def _connect(db: IamDatabase, **kwargs: Any) -> sturdydb.AsyncConnection:
    options: dict[str, Any] = {"host": CLUSTER_HOST, "user": db.user, "plugins": "iam", "connect_timeout": 10}
    if db.engine == "pg":
        target: Callable[..., Any] = psycopg.AsyncConnection.connect
        options["dbname"] = "test"
    else:
        target = mysql.connector.aio.connect
        options["database"] = "test"
    options.update(kwargs)
    return await sturdydb.connect_async(target, **options)


def test_async_connects_log_in_with_a_valid_token_and_reuse_it(iam_db: IamDatabase, token_spy: list[str]) -> None:
    async def scenario() -> None:
        for _ in range(3):
            conn = await _connect(iam_db)
            cur = conn.cursor()
            await cur.execute("SELECT 1")
            assert await cur.fetchall() == [(1,)]
            await conn.close()

    asyncio.run(scenario())
    assert iam_db.front.accepted == 3
    assert iam_db.front.rejected == 0
    assert len(token_spy) == 1  # generated once, cached for the next connects


def test_concurrent_cold_async_connects_generate_one_token(iam_db: IamDatabase, token_spy: list[str]) -> None:
    async def scenario() -> None:
        conns = await asyncio.gather(*(_connect(iam_db) for _ in range(6)))
        await asyncio.gather(*(conn.close() for conn in conns))

    asyncio.run(scenario())
    assert iam_db.front.accepted == 6
    assert len(token_spy) == 1


def test_a_sync_and_an_async_connection_share_the_token_cache(iam_db: IamDatabase, token_spy: list[str]) -> None:
    iam_db.connect().close()

    async def scenario() -> None:
        await (await _connect(iam_db)).close()

    asyncio.run(scenario())
    assert iam_db.front.accepted == 2
    assert len(token_spy) == 1
