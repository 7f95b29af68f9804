"""The MySQL-family dialects report the server's own transaction status, whatever opened it.

Against the machine's real MariaDB, with autocommit off: a ``SELECT`` of a transactional table
opens a transaction (the server says so in the EOF packet that ends the result, which PyMySQL by
itself ignores), a table-less ``SELECT 1`` does not, a DML statement does, and ``COMMIT`` and
``ROLLBACK`` end it. Read/write splitting refuses to move inside a transaction and failover
reports an interrupted one from exactly this status, so each case is checked on PyMySQL (its
buffered and unbuffered cursors, connected by ``pymysql.connect``, by an application's subclass
and by a wrapper function) and, for parity, on mysql-connector. Each answer is compared with
the server's own ``@@in_transaction``, read on the same session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import mysql.connector
import pymysql
import pymysql.cursors
import pytest
from conftest import MYSQL_KWARGS

import sturdydb
from sturdydb._drivers import driver_dialect_for


class _AppPyMysqlConnection(pymysql.connections.Connection):
    """An application's own connection class."""


def _wrapping_connect(**kwargs: Any) -> Any:
    """An application's function around ``pymysql.connect`` (named by wrapper_driver_dialect)."""
    return pymysql.connect(**kwargs)


#: (id, connect function, extra properties, cursor class or None for the default cursor)
_WAYS: list[tuple[str, Callable[..., Any], dict[str, Any], Any]] = [
    ("pymysql", pymysql.connect, {}, None),
    ("pymysql-SSCursor", pymysql.connect, {}, pymysql.cursors.SSCursor),
    ("pymysql-app-class", _AppPyMysqlConnection, {}, None),
    ("pymysql-wrapper", _wrapping_connect, {"wrapper_driver_dialect": "pymysql"}, pymysql.cursors.SSCursor),
    ("mysql-connector", mysql.connector.connect, {}, None),
]


@pytest.fixture(scope="module")
def table() -> Iterator[str]:
    name = f"txstatus_{uuid.uuid4().hex[:8]}"
    setup = pymysql.connect(**MYSQL_KWARGS, autocommit=True)
    try:
        setup.cursor().execute(f"CREATE TABLE {name} (id INT PRIMARY KEY) ENGINE=InnoDB")
        setup.cursor().execute(f"INSERT INTO {name} VALUES (1)")
        yield name
        setup.cursor().execute(f"DROP TABLE {name}")
    finally:
        setup.close()


@pytest.fixture(params=_WAYS, ids=[w[0] for w in _WAYS])
def way(request: pytest.FixtureRequest) -> Iterator[tuple[sturdydb.Connection, Any]]:
    _, target, props, cursor_class = request.param
    conn = sturdydb.connect(target, plugins="", autocommit=False, **MYSQL_KWARGS, **props)
    try:
        yield conn, cursor_class
    finally:
        conn.close()


def _run(conn: sturdydb.Connection, cursor_class: Any, sql: str) -> list[Any]:
    cur = conn.cursor(cursor_class) if cursor_class is not None else conn.cursor()
    cur.execute(sql)
    rows = list(cur.fetchall()) if cur.description is not None else []
    cur.close()
    return rows


def _status(conn: sturdydb.Connection) -> tuple[bool, bool]:
    """(what the dialect says, what the server says) about the open transaction; the dialect is
    asked first, so the server's answer (itself a SELECT) cannot have changed it."""
    said = conn.context.driver.in_transaction(conn.target_connection)
    # The server's own answer, read with the default buffered cursor of the driver.
    [(server,)] = _run(conn, None, "SELECT @@in_transaction")
    return said, bool(server)


def test_a_select_of_a_table_opens_a_transaction_that_the_dialect_sees(
        way: tuple[sturdydb.Connection, Any], table: str) -> None:
    conn, cursor_class = way
    assert _run(conn, cursor_class, "SELECT 1") == [(1,)]
    assert _status(conn) == (False, False)  # no table read: nothing opened
    assert _run(conn, cursor_class, f"SELECT id FROM {table}") == [(1,)]
    assert _status(conn) == (True, True)
    conn.commit()
    assert _status(conn) == (False, False)
    assert _run(conn, cursor_class, f"SELECT count(*) FROM {table}") == [(1,)]
    assert _status(conn) == (True, True)
    conn.rollback()
    assert _status(conn) == (False, False)


def test_a_dml_statement_opens_a_transaction_that_commit_and_rollback_end(
        way: tuple[sturdydb.Connection, Any], table: str) -> None:
    conn, cursor_class = way
    _run(conn, cursor_class, f"UPDATE {table} SET id = id WHERE id = 1")
    assert _status(conn) == (True, True)
    conn.rollback()
    assert _status(conn) == (False, False)
    _run(conn, cursor_class, f"UPDATE {table} SET id = id WHERE id = 1")
    conn.commit()
    assert _status(conn) == (False, False)


def test_an_unbuffered_result_tells_the_status_before_any_other_statement(
        table: str) -> None:
    # The server opens the transaction while streaming; the status must be known from the
    # result itself, with no other statement sent (this is the moment read/write splitting or
    # failover asks).
    conn = sturdydb.connect(pymysql.connect, plugins="", autocommit=False, **MYSQL_KWARGS)
    try:
        dialect = driver_dialect_for(pymysql.connect)
        cur = conn.cursor(pymysql.cursors.SSCursor)
        cur.execute(f"SELECT id FROM {table}")
        # Already from the EOF packet after the column list, before any row is read.
        assert dialect.in_transaction(conn.target_connection)
        assert cur.fetchall() == [(1,)]
        assert dialect.in_transaction(conn.target_connection)
        conn.rollback()
        assert not dialect.in_transaction(conn.target_connection)
    finally:
        conn.close()


def test_the_application_class_is_kept_under_the_status_keeping_subclass() -> None:
    conn = sturdydb.connect(_AppPyMysqlConnection, plugins="", **MYSQL_KWARGS)
    try:
        raw = conn.target_connection
        assert isinstance(raw, _AppPyMysqlConnection)
        assert type(raw).__name__ == "_AppPyMysqlConnection"
    finally:
        conn.close()
