"""Fixtures for the core's tests: the machine's own PostgreSQL and MariaDB servers.

The servers listen on 127.0.0.1 (PostgreSQL 5432 with trust auth, MariaDB 3306 as root with no
password), both with a database ``test``. ``STURDYDB_TEST_PG`` / ``STURDYDB_TEST_MYSQL``
override the connection strings.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import mysql.connector
import psycopg
import pytest

import sturdydb

PG_CONNINFO = os.environ.get("STURDYDB_TEST_PG", "host=127.0.0.1 port=5432 dbname=test user=postgres")
MYSQL_CONNINFO = os.environ.get(
    "STURDYDB_TEST_MYSQL", "host=127.0.0.1 port=3306 database=test user=root password=''"
)
MYSQL_KWARGS: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "database": "test", "user": "root", "password": ""}


@pytest.fixture
def pg_conninfo() -> str:
    return PG_CONNINFO


@pytest.fixture
def mysql_conninfo() -> str:
    return MYSQL_CONNINFO


@pytest.fixture
def table_name() -> str:
    """A unique table name, so concurrent test runs never collide."""
    return f"sturdy_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def pg_raw() -> Iterator[psycopg.Connection[Any]]:
    conn = psycopg.connect(PG_CONNINFO)
    yield conn
    conn.close()


@pytest.fixture
def mysql_raw() -> Iterator[Any]:
    conn = mysql.connector.connect(**MYSQL_KWARGS)
    yield conn
    conn.close()


@pytest.fixture
def pg_wrapped() -> Iterator[sturdydb.Connection]:
    conn = sturdydb.connect(psycopg.Connection.connect, PG_CONNINFO, plugins="")
    yield conn
    conn.close()


@pytest.fixture
def mysql_wrapped() -> Iterator[sturdydb.Connection]:
    conn = sturdydb.connect(mysql.connector.connect, MYSQL_CONNINFO, plugins="")
    yield conn
    conn.close()


@pytest.fixture(autouse=True)
def _fresh_process_state_after_test() -> Iterator[None]:
    """Every test leaves sturdydb as fresh as a new process: threads, caches, topologies."""
    yield
    sturdydb.reset_process_state()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "hookspec(name): a contract test of the hook `name` (test_every_hookspec_is_tested.py "
        "fails when a hook has none)",
    )

