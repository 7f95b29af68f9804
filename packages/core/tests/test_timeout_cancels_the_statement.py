"""``socket_timeout`` on a host that still answers cancels the statement instead of aborting
the connection: ``QueryTimeoutError`` with ``cancelled``, nothing applied, connection usable."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import mysql.connector
import psycopg
import pytest

import sturdydb
from sturdydb._errors import QueryTimeoutError


def _connect(engine: str, **props: Any) -> sturdydb.Connection:
    if engine == "pg":
        return sturdydb.connect(psycopg.Connection.connect, "host=127.0.0.1 port=5432 dbname=test user=postgres",
                                plugins="", autocommit=True, **props)
    return sturdydb.connect(mysql.connector.connect, host="127.0.0.1", port=3306, user="root", password="",
                            database="test", use_pure=True, autocommit=True, plugins="", **props)


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_a_slow_autocommit_insert_is_cancelled_and_not_applied(engine: str) -> None:
    conn = _connect(engine, socket_timeout=0.5)
    table = f"cancel_{uuid.uuid4().hex[:10]}"
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (id INT)")
    try:
        raw = conn.target_connection
        sleep = "pg_sleep(2)" if engine == "pg" else "(SELECT SLEEP(2)) AS s"
        with pytest.raises(QueryTimeoutError) as caught:
            cur.execute(f"INSERT INTO {table} (id) SELECT 1 FROM {sleep}")
        err = caught.value
        assert err.cancelled
        assert "cancelled on the server" in str(err)
        assert isinstance(err, conn.context.driver.operational_error)
        assert conn.context.driver.is_cancel_error(err.__cause__)  # type: ignore[arg-type]
        assert not conn.context.driver.is_network_error(err)  # not a reason to fail over
        assert conn.target_connection is raw
        cur.execute("SELECT 8")
        assert cur.fetchall() == [(8,)]  # the same connection is usable
        threading.Event().wait(2.0)  # past the statement's own end
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchall() == [(0,)]
        assert not [t for t in threading.enumerate() if t.name == "sturdydb-cancel"]
    finally:
        cur.execute(f"DROP TABLE {table}")
        conn.close()


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_a_statement_that_finishes_in_time_is_not_cancelled(engine: str) -> None:
    conn = _connect(engine, socket_timeout=2)
    cur = conn.cursor()
    cur.execute("SELECT pg_sleep(0.2)" if engine == "pg" else "SELECT SLEEP(0.2)")
    cur.fetchall()
    cur.execute("SELECT 9")
    assert cur.fetchall() == [(9,)]
    conn.close()
