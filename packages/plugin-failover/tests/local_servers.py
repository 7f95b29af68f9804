"""Helpers shared by the unit tests (the fixtures are in ``conftest.py``)."""

from __future__ import annotations

import uuid

import mysql.connector
import psycopg

import sturdydb

ENGINES = {
    "pg": (psycopg.Connection.connect, 5432, {"dbname": "test", "user": "postgres"}),
    "mysql": (mysql.connector.connect, 3306, {"database": "test", "user": "root", "password": "", "use_pure": True}),
}


def break_connection(conn: sturdydb.Connection) -> None:
    """Cut the physical connection the way a dead host does (socket shut down)."""
    ctx = conn.context
    ctx.driver.abort_connection(ctx.connection)


def table(conn: sturdydb.Connection) -> str:
    name = f"fo_{uuid.uuid4().hex[:10]}"
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, v VARCHAR(20))")
    if not conn.autocommit:
        conn.commit()
    return name
