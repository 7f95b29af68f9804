"""Errors a healthy server returns to a statement reach the application unchanged, with no failover.

The connections have two host names for the same local server, so failover is armed and would
switch connections (a new backend) if it took the error for a lost connection, as it once did
for ``pg_read_file`` (58P01) and functions raising ``XX000``.
"""

from __future__ import annotations

from collections.abc import Callable

import mysql.connector
import psycopg
import pytest

import sturdydb

Open = Callable[..., sturdydb.Connection]


def _session_id(conn: sturdydb.Connection, engine: str) -> object:
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()" if engine == "pg" else "SELECT CONNECTION_ID()")
    row = cur.fetchall()[0][0]
    cur.close()
    return row


SERVER_ERRORS = {
    "pg": [
        ("SELECT pg_read_file('/nonexistent/sturdydb-file')", psycopg.errors.UndefinedFile, "58P01"),
        ("DO $$ BEGIN RAISE EXCEPTION 'internal' USING ERRCODE = 'XX000'; END $$",
         psycopg.errors.InternalError_, "XX000"),
        ("DO $$ BEGIN RAISE EXCEPTION 'disk' USING ERRCODE = '53100'; END $$", psycopg.errors.DiskFull, "53100"),
    ],
    "mysql": [
        ("SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 1644, MESSAGE_TEXT = 'Lost connection to MySQL server'",
         mysql.connector.errors.DatabaseError, "45000"),
        ("SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1021, MESSAGE_TEXT = 'Disk full'",
         mysql.connector.errors.DatabaseError, "HY000"),
    ],
}


@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "transaction"])
@pytest.mark.timeout(120)
def test_a_server_error_reaches_the_application_as_the_drivers_own_exception(
    open_conn: Open, engine: str, autocommit: bool,
) -> None:
    conn = open_conn(autocommit=autocommit)
    session = _session_id(conn, engine)
    physical = conn.target_connection
    cur = conn.cursor()
    for sql, driver_type, sqlstate in SERVER_ERRORS[engine]:
        with pytest.raises(Exception) as caught:
            cur.execute(sql)
        error = caught.value
        assert type(error) is driver_type, repr(error)  # exactly the driver's, not wrapped
        assert not isinstance(error, sturdydb.FailoverError)
        assert error.sqlstate == sqlstate
        if not autocommit:
            conn.rollback()
        # No failover: the same physical connection and the same server session.
        assert conn.target_connection is physical
        assert _session_id(conn, engine) == session
