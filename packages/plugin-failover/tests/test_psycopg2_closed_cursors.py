"""psycopg2 says "cursor already closed" both for a cursor the application closed and for any
cursor of a closed connection; failover tells the two apart by the connection's state.

On the machine's PostgreSQL, with two names for it so failover has somewhere to go: the
application's own closed cursor gives the driver's error and no failover; a cursor whose
connection is gone fails over and reports the call as not applied (nothing was sent); a
client-side result read before the failover raises the documented error instead of the
driver's "cursor already closed".
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg2
import pytest

import sturdydb

pytestmark = pytest.mark.parametrize("engine", ["pg"])  # the names fixture's server


@pytest.fixture
def pg2(names: tuple[str, str]) -> Iterator[sturdydb.Connection]:
    conn = sturdydb.connect(psycopg2.connect, host=",".join(names), port=5432, dbname="test", user="postgres",
                            plugins="failover", failover_timeout_sec=10, autocommit=True)
    yield conn
    conn.close()


def _backend(conn: sturdydb.Connection) -> int:
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()")
    return int(cur.fetchall()[0][0])


def test_a_cursor_the_application_closed_gives_the_drivers_error_and_no_failover(pg2: sturdydb.Connection) -> None:
    backend = _backend(pg2)
    cur = pg2.cursor()
    cur.close()
    with pytest.raises(psycopg2.InterfaceError, match="cursor already closed") as caught:
        cur.execute("SELECT 1")
    assert not isinstance(caught.value, sturdydb.FailoverError)
    assert pg2.context.plugin_state["failover"].failovers == 0
    assert _backend(pg2) == backend


def test_a_cursor_of_a_closed_connection_fails_over_as_not_applied(pg2: sturdydb.Connection) -> None:
    backend = _backend(pg2)
    cur = pg2.cursor()
    held = pg2.cursor()
    held.execute("SELECT 7")  # the whole result is in memory, on the old connection's cursor
    pg2.context.connection.close()  # gone behind the application's back
    with pytest.raises(sturdydb.FailoverSuccessError) as caught:
        cur.execute("SELECT 1")
    assert "safe to run it again" in str(caught.value)
    assert isinstance(caught.value.__cause__, psycopg2.InterfaceError)
    assert pg2.context.plugin_state["failover"].failovers == 1
    assert _backend(pg2) != backend
    with pytest.raises(sturdydb.FailoverSuccessError, match="execute the query again"):
        held.fetchall()
    cur.execute("SELECT 2")
    assert cur.fetchall() == [(2,)]
