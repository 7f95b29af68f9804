"""psycopg2 specifics under failover. It says "cursor already closed" both for a cursor the
application closed and for any cursor of a closed connection; failover tells the two apart by
the connection's state. Its COPY methods go through the plugins, and a COPY cut off midway is
reported as an unknown outcome, never as "not applied".

On the machine's PostgreSQL, with two names for it so failover has somewhere to go: the
application's own closed cursor gives the driver's error and no failover; a cursor whose
connection is gone fails over and reports the call as not applied (nothing was sent); a
client-side result read before the failover raises the documented error instead of the
driver's "cursor already closed".
"""

from __future__ import annotations

import io
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


class _CutOffMidway(io.StringIO):
    """COPY data whose second chunk is read after the connection was cut (a dead host)."""

    def __init__(self, conn: sturdydb.Connection, rows: int) -> None:
        super().__init__("".join(f"{i}\n" for i in range(rows)))
        self.conn = conn
        self.reads = 0

    def read(self, size: int | None = -1) -> str:
        self.reads += 1
        if self.reads == 2:
            ctx = self.conn.context
            ctx.driver.abort_connection(ctx.connection)
        return super().read(size)


def test_copy_goes_through_the_plugins_and_a_cut_off_copy_has_an_unknown_outcome(pg2: sturdydb.Connection) -> None:
    cur = pg2.cursor()
    cur.execute("CREATE TEMP TABLE IF NOT EXISTS c (n int)")
    for method in ("Cursor.copy_from", "Cursor.copy_to", "Cursor.copy_expert"):
        assert pg2.context.chain(method) is not None, method  # failover wraps them
    cur.copy_from(io.StringIO("1\n2\n"), "c")
    out = io.StringIO()
    cur.copy_expert("COPY c TO STDOUT", out)
    assert out.getvalue() == "1\n2\n"
    with pytest.raises(sturdydb.StatementOutcomeUnknownError):
        cur.copy_from(_CutOffMidway(pg2, 20000), "c", size=1024)
    assert pg2.context.plugin_state["failover"].failovers == 1
    cur.execute("SELECT 1")  # the connection works again, on a new backend
    assert cur.fetchall() == [(1,)]


def test_two_phase_commit_calls_go_through_the_plugins(pg2: sturdydb.Connection) -> None:
    for method in ("Connection.tpc_begin", "Connection.tpc_prepare", "Connection.tpc_commit",
                   "Connection.tpc_rollback", "Connection.tpc_recover"):
        assert pg2.context.chain(method) is not None, method
    pg2.autocommit = False
    xid = pg2.xid(1, "sturdydb-test", "branch")  # psycopg2's own, passed through
    pg2.tpc_begin(xid)
    cur = pg2.cursor()
    cur.execute("SELECT 1")
    pg2.tpc_rollback()  # before tpc_prepare: a plain rollback
    assert pg2.tpc_recover() == [] or all(x.gtrid != "sturdydb-test" for x in pg2.tpc_recover())
    pg2.tpc_begin(xid)
    # The local server allows no prepared transactions: the server's error, unchanged.
    with pytest.raises(psycopg2.errors.ObjectNotInPrerequisiteState):
        pg2.tpc_prepare()
    assert pg2.context.plugin_state["failover"].failovers == 0
    pg2.tpc_rollback()  # psycopg2 refuses rollback() inside a two-phase transaction
