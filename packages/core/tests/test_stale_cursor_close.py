"""Closing a cursor whose connection was replaced (a failover, a read/write switch) touches
nothing of the old driver connection, on every sync driver whose cursors hold their result.

After a replacement the old driver connection is closed and dropped (mysql-connector's
cursor then raises ``ReferenceError`` on ``close``), may still have a result pending (PyMySQL
reads it in ``close``), or, kept by a switching plugin, serves another connection (a close
would eat its unread rows). The same replacement failover makes is done here directly, with
the public ``ConnectionContext.open`` / ``set_connection``, on the local servers.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import mysql.connector
import psycopg
import pymysql
import pytest
from conftest import MYSQL_KWARGS, PG_CONNINFO

import sturdydb


def _psycopg() -> sturdydb.Connection:
    return sturdydb.connect(psycopg.Connection.connect, PG_CONNINFO, plugins="")


def _mysql_connector() -> sturdydb.Connection:
    return sturdydb.connect(mysql.connector.connect, plugins="", use_pure=True, **MYSQL_KWARGS)


def _pymysql() -> sturdydb.Connection:
    return sturdydb.connect(pymysql.connect, plugins="", **MYSQL_KWARGS)


@pytest.mark.parametrize(("connect", "cursor_kwargs", "query"), [
    (_psycopg, {}, "SELECT 1"),
    (_mysql_connector, {"buffered": True}, "SELECT 1"),
    (_pymysql, {}, "SELECT 1"),
])
def test_a_stale_in_memory_cursor_closes_quietly(
    connect: Callable[[], sturdydb.Connection], cursor_kwargs: dict[str, Any], query: str,
) -> None:
    with connect() as conn:
        stale = conn.cursor(**cursor_kwargs)
        stale.execute(query)
        ctx = conn.context
        old = weakref.ref(ctx.connection)  # not a strong reference: the old one may be dropped
        ctx.set_connection(ctx.open(purpose="reconnect"), ctx.host)
        assert ctx.connection is not old()
        stale.close()  # the old driver connection is closed: nothing may reach it
        cur = conn.cursor(**cursor_kwargs)
        cur.execute("SELECT 2")
        assert cur.fetchone() == (2,)
        cur.close()


def test_a_stale_cursor_never_reads_from_a_kept_connection() -> None:
    # A switching plugin keeps the old connection (keep_old=True) and may hand it to another
    # user: closing the stale cursor must not consume what that user has not read yet.
    with _mysql_connector() as conn:
        stale = conn.cursor(buffered=True)
        stale.execute("SELECT 1")
        ctx = conn.context
        kept = ctx.connection
        ctx.set_connection(ctx.open(purpose="reconnect"), ctx.host, keep_old=True)
        try:
            other = kept.cursor()  # unbuffered: its rows stay on the wire until fetched
            other.execute("SELECT 2 UNION ALL SELECT 3")
            stale.close()
            assert other.fetchall() == [(2,), (3,)]
            other.close()
        finally:
            kept.close()
