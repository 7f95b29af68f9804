"""Secrets Manager credentials for async connections (``sturdydb.connect_async``), both engines.

The plugin is unchanged: the connect chain of an async connection runs off the event loop, so
the AWS request never blocks the loop and the single-flight cache serves sync and async alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import mysql.connector.aio
import psycopg

import sturdydb


async def _connect(secret_db: Any, **kwargs: Any) -> sturdydb.AsyncConnection:
    options: dict[str, Any] = {"host": "ledger.cluster-5ec2e75ab1e5.us-east-1.rds.amazonaws.com", "plugins": "aws_secrets_manager",
               "secrets_manager_secret_id": secret_db.secret_arn, "connect_timeout": 10}
    if secret_db.engine == "pg":
        target: Callable[..., Any] = psycopg.AsyncConnection.connect
        options.update(dbname="test", sslmode="require")
    else:
        target = mysql.connector.aio.connect
        options.update(database="test")
    options.update(kwargs)
    return await sturdydb.connect_async(target, **options)


async def _query(conn: sturdydb.AsyncConnection) -> Any:
    cur = conn.cursor()
    await cur.execute("SELECT 1")
    return await cur.fetchall()


def test_async_connects_use_the_secret_and_its_cache(secret_db: Any) -> None:
    async def scenario() -> None:
        for _ in range(3):
            conn = await _connect(secret_db)
            assert await _query(conn) == [(1,)]
            await conn.close()

    asyncio.run(scenario())
    assert secret_db.fetches == 1
    assert secret_db.front.accepted == 3
    assert {a.user for a in secret_db.front.attempts} == {"ledger_app"}


def test_concurrent_cold_async_connects_make_one_aws_request_and_never_block_the_loop(secret_db: Any) -> None:
    async def scenario() -> list[float]:
        ticks: list[float] = []
        done = asyncio.Event()

        async def tick() -> None:
            while not done.is_set():
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        ticker = asyncio.get_running_loop().create_task(tick())
        conns = await asyncio.gather(*(_connect(secret_db) for _ in range(8)))
        for conn in conns:
            assert await _query(conn) == [(1,)]
            await conn.close()
        done.set()
        await ticker
        return ticks

    ticks = asyncio.run(scenario())
    assert secret_db.fetches == 1  # single flight: one GetSecretValue for eight cold connects
    assert secret_db.front.accepted == 8
    assert len(ticks) >= 2


def test_a_rotated_secret_is_refetched_once_for_an_async_connect(secret_db: Any) -> None:
    async def scenario() -> None:
        await (await _connect(secret_db)).close()
        secret_db.rotate("second-password-0002")
        conn = await _connect(secret_db)
        assert await _query(conn) == [(1,)]
        await conn.close()

    asyncio.run(scenario())
    assert secret_db.fetches == 2
    assert [a.accepted for a in secret_db.front.attempts] == [True, False, True]
