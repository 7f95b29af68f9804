"""Helpers shared by the testing package's own tests: one way to open a raw driver connection."""

from __future__ import annotations

from typing import Any

import mysql.connector
import psycopg
import pytest

from sturdydb_testing import Cluster, Instance

# What a raw driver raises for a network or server failure, per engine.
DRIVER_ERRORS: tuple[type[Exception], ...] = (psycopg.Error, mysql.connector.Error)


def raw_connect(cluster: Cluster, host: Instance | str | None = None, timeout: int = 5, **extra: Any) -> Any:
    """A raw driver connection (no sturdydb) through the loopback address of ``host``."""
    kwargs = {**cluster.address_kwargs(host), **extra}
    if cluster.engine == "pg":
        return psycopg.connect(**kwargs, connect_timeout=timeout, autocommit=True)
    return mysql.connector.connect(**kwargs, connection_timeout=timeout, autocommit=True, use_pure=True)


def query(conn: Any, sql: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
    cursor = conn.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        cursor.close()


def instance_id_sql(cluster: Cluster) -> str:
    if cluster.engine == "pg":
        return "SELECT pg_catalog.aurora_db_instance_identifier(), pg_catalog.aurora_db_instance_identifier()"
    return "SELECT @@aurora_server_id, @@aurora_server_id"


@pytest.fixture
def connect() -> Any:
    return raw_connect
