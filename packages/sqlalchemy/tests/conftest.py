"""Fixtures for sturdydb-sqlalchemy's tests on the machine's own servers.

PostgreSQL at 127.0.0.1:5432 (user postgres, database ``test``) and MariaDB at 127.0.0.1:3306
(root, database ``test``). Each test makes its own uniquely named tables and drops them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from local_servers import MYSQL_URL, PG2_URL, PG_URL, PYMYSQL_URL

import sturdydb


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    yield
    sturdydb.reset_process_state()


def _engine(url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url, connect_args={"plugins": "host_monitoring"})
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine() -> Iterator[sa.Engine]:
    yield from _engine(PG_URL)


@pytest.fixture
def mysql_engine() -> Iterator[sa.Engine]:
    yield from _engine(MYSQL_URL)


@pytest.fixture
def pg2_engine() -> Iterator[sa.Engine]:
    yield from _engine(PG2_URL)


@pytest.fixture
def pymysql_engine() -> Iterator[sa.Engine]:
    yield from _engine(PYMYSQL_URL)


@pytest.fixture(params=["pg", "mysql", "pg2", "pymysql"])
def engine(request: pytest.FixtureRequest) -> sa.Engine:
    """Each engine in turn: psycopg, mysql-connector, psycopg2 and PyMySQL."""
    found: sa.Engine = request.getfixturevalue(f"{request.param}_engine")
    return found


@pytest.fixture
def table_name(engine: sa.Engine) -> Iterator[str]:
    name = f"sa_{uuid.uuid4().hex[:10]}"
    yield name
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
