"""Which interrupted calls are "not applied", "a read" or "unknown" (the at-most-once rule),
on real connections of both engines; the README documents the same table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import sturdydb
from sturdydb_failover.plugin import Outcome, call_outcome

Open = Callable[..., sturdydb.Connection]


def _outcome(conn: sturdydb.Connection, method: str, *args: Any, exc: BaseException | None = None,
             autocommit: bool | None = True, read_only: bool = False, target: Any = None) -> str:
    ctx = conn.context
    call = sturdydb.Call(ctx, method, target, lambda *a: None, args, {})
    return call_outcome(call, exc or OSError("connection reset"), autocommit, read_only)


def test_statements_by_the_rule(open_conn: Open) -> None:
    conn = open_conn(autocommit=True)
    assert _outcome(conn, "Cursor.execute", "SELECT 1") == Outcome.READ
    assert _outcome(conn, "Cursor.execute", "INSERT INTO t VALUES (1)") == Outcome.UNKNOWN
    assert _outcome(conn, "Cursor.execute", "SELECT nextval('s')") == Outcome.UNKNOWN
    # executemany is never treated as a read, even of a SELECT
    assert _outcome(conn, "Cursor.executemany", "SELECT 1", []) == Outcome.UNKNOWN
    assert _outcome(conn, "Cursor.callproc", "p") == Outcome.UNKNOWN
    assert _outcome(conn, "Cursor.copy", "COPY t FROM STDIN") == Outcome.UNKNOWN
    # psycopg2's COPY methods, and two-phase commit (COMMIT PREPARED runs outside a transaction)
    for method in ("Cursor.copy_from", "Cursor.copy_to", "Cursor.copy_expert", "Connection.tpc_prepare",
                   "Connection.tpc_commit", "Connection.tpc_rollback"):
        assert _outcome(conn, method) == Outcome.UNKNOWN, method


def test_calls_that_apply_no_data_of_their_own(open_conn: Open) -> None:
    conn = open_conn(autocommit=True)
    for method in ("Connection.commit", "Connection.rollback", "Connection.autocommit_setter",
                   "Connection.read_only_setter", "Connection.cursor", "Connection.ping", "Cursor.close"):
        assert _outcome(conn, method) == Outcome.NOT_APPLIED, method


def test_a_read_only_session_counts_only_outside_autocommit(open_conn: Open) -> None:
    conn = open_conn(autocommit=True)
    write = "UPDATE t SET x = 1"
    assert _outcome(conn, "Cursor.execute", write, read_only=True, autocommit=None) == Outcome.NOT_APPLIED
    assert _outcome(conn, "Cursor.execute", write, read_only=True, autocommit=False) == Outcome.NOT_APPLIED
    # psycopg applies read_only only to transactions: in autocommit it proves nothing
    assert _outcome(conn, "Cursor.execute", write, read_only=True, autocommit=True) == Outcome.UNKNOWN


def test_dml_outside_autocommit_died_with_its_transaction(open_conn: Open) -> None:
    conn = open_conn(autocommit=True)
    assert _outcome(conn, "Cursor.execute", "INSERT INTO t VALUES (1)", autocommit=False) == Outcome.NOT_APPLIED
    assert _outcome(conn, "Cursor.execute", "CREATE TABLE t (id int)", autocommit=False) == Outcome.UNKNOWN
    assert _outcome(conn, "Cursor.execute", "INSERT INTO t VALUES (1); COMMIT", autocommit=False) == Outcome.UNKNOWN
    # unknown autocommit mode: conservative
    assert _outcome(conn, "Cursor.execute", "INSERT INTO t VALUES (1)", autocommit=None) == Outcome.UNKNOWN


def test_an_error_raised_before_sending_proves_nothing_was_applied(open_conn: Open, engine: str) -> None:
    conn = open_conn(autocommit=True)
    raw = conn.context.connection
    raw.close()
    with pytest.raises(Exception) as caught:
        raw.cursor().execute("INSERT INTO t VALUES (1)")
    assert conn.context.driver.is_unsent_error(caught.value)
    assert _outcome(conn, "Cursor.execute", "INSERT INTO t VALUES (1)", exc=caught.value) == Outcome.NOT_APPLIED


def test_fetches(open_conn: Open, engine: str) -> None:
    conn = open_conn(autocommit=True)
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    raw_cursor = cur.target_cursor
    # psycopg: fetches read a result whose statement completed; mysql-connector: by the statement
    assert _outcome(conn, "Cursor.fetchall", target=raw_cursor) == Outcome.NOT_APPLIED
    if engine == "mysql":
        cur.execute("DO 1")
        assert _outcome(conn, "Cursor.fetchall", target=cur.target_cursor) == Outcome.UNKNOWN
