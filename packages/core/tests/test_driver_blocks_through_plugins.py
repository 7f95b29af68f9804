"""Driver-specific network API goes through the plugin chain, not around it.

psycopg's ``Cursor.copy()``, ``Cursor.stream()``, ``Connection.transaction()`` and
``Connection.pipeline()`` (and mysql-connector's ``start_transaction()``, ``ping()`` and
``cmd_query()``) talk to the server; reached through attribute pass-through they would escape
``socket_timeout``, failover and host monitoring. A recording plugin proves each round trip
is seen, and ``socket_timeout`` proves the chain really bounds a COPY and a stream.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from typing import Any, ClassVar

import mysql.connector
import psycopg
import pytest

import sturdydb
from sturdydb import Call, Plugin, hookimpl
from sturdydb._discovery import register_plugin, unregister_plugin
from sturdydb._errors import QueryTimeoutError, TransactionResolutionUnknownError

seen: list[str] = []


class NetworkRecorder(Plugin):
    """Records every network-bound call, as a timeout or monitoring plugin would see them."""

    code: ClassVar[str] = "t_network_recorder"

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return network_bound

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        seen.append(call.method)
        return (yield)


@pytest.fixture(autouse=True)
def _recorder() -> Iterator[None]:
    register_plugin(NetworkRecorder, distribution="tests")
    seen.clear()
    yield
    unregister_plugin(NetworkRecorder.code)


@pytest.fixture
def pg(pg_conninfo: str, table_name: str) -> Iterator[tuple[sturdydb.Connection, str]]:
    conn = sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_network_recorder", autocommit=True)
    conn.cursor().execute(f"CREATE TABLE {table_name} (a INT, b TEXT)")
    yield conn, table_name
    if not conn.closed:
        conn.cursor().execute(f"DROP TABLE IF EXISTS {table_name}")
        conn.close()


def _count(conn: sturdydb.Connection, table: str) -> int:
    cur = conn.cursor()
    cur.execute(f"SELECT count(*) FROM {table}")
    return int(cur.fetchone()[0])


def test_copy_from_goes_through_the_chain(pg: tuple[sturdydb.Connection, str]) -> None:
    conn, table = pg
    cur = conn.cursor()
    seen.clear()
    with cur.copy(f"COPY {table} (a, b) FROM STDIN") as copy:
        copy.write_row((1, "one"))
        copy.write_row((2, "two"))
        copy.write(b"3\tthree\n")
    # Entering (the COPY statement), three writes and the end of the copy.
    assert seen.count("Cursor.copy") == 5, seen
    assert _count(conn, table) == 3


def test_copy_to_reads_rows_and_blocks_through_the_chain(pg: tuple[sturdydb.Connection, str]) -> None:
    conn, _ = pg
    cur = conn.cursor()
    seen.clear()
    with cur.copy("COPY (SELECT g, 'x' || g FROM generate_series(1, 3) g) TO STDOUT") as copy:
        copy.set_types(["int4", "text"])
        rows = list(copy.rows())
    assert rows == [(1, "x1"), (2, "x2"), (3, "x3")]
    # Enter, four reads (three rows and the end marker), exit.
    assert seen.count("Cursor.copy") == 6, seen
    seen.clear()
    with cur.copy("COPY (SELECT 7) TO STDOUT") as copy:
        data = b"".join(bytes(block) for block in copy)
    assert data == b"7\n"
    assert seen.count("Cursor.copy") >= 3, seen


def test_stream_goes_through_the_chain_row_by_row(pg: tuple[sturdydb.Connection, str]) -> None:
    conn, _ = pg
    cur = conn.cursor()
    seen.clear()
    rows = list(cur.stream("SELECT g FROM generate_series(1, 5) g"))
    assert rows == [(1,), (2,), (3,), (4,), (5,)]
    assert seen.count("Cursor.stream") == 6, seen  # five rows and the end of the stream


def test_transaction_block_goes_through_the_chain(pg: tuple[sturdydb.Connection, str]) -> None:
    conn, table = pg
    cur = conn.cursor()
    seen.clear()
    with conn.transaction():
        cur.execute(f"INSERT INTO {table} (a) VALUES (1)")
    assert seen == ["Connection.transaction", "Cursor.execute", "Connection.transaction"]
    assert _count(conn, table) == 1
    with pytest.raises(ZeroDivisionError), conn.transaction():
        cur.execute(f"INSERT INTO {table} (a) VALUES (2)")
        raise ZeroDivisionError
    assert _count(conn, table) == 1  # the driver's rollback ran, through the chain
    with conn.transaction() as outer, conn.transaction("inner") as inner:
        assert inner.savepoint_name == "inner" and not outer.savepoint_name


def test_pipeline_block_goes_through_the_chain(pg: tuple[sturdydb.Connection, str]) -> None:
    conn, table = pg
    cur = conn.cursor()
    seen.clear()
    with conn.pipeline() as pipeline:
        cur.execute(f"INSERT INTO {table} (a) VALUES (1)")
        cur.execute(f"INSERT INTO {table} (a) VALUES (2)")
        pipeline.sync()
    assert seen.count("Connection.pipeline") == 3, seen  # enter, sync(), exit
    assert seen.count("Cursor.execute") == 2
    assert _count(conn, table) == 2


def test_a_failover_inside_a_block_skips_the_drivers_exit(pg: tuple[sturdydb.Connection, str]) -> None:
    """The driver's exit would talk to the dead connection; the block reports it instead."""
    conn, table = pg
    cur = conn.cursor()
    with pytest.raises(TransactionResolutionUnknownError) as info, conn.transaction():
        cur.execute(f"INSERT INTO {table} (a) VALUES (1)")
        conn.context.generation += 1  # what a failover does when it installs a new connection
    assert isinstance(info.value, psycopg.OperationalError)
    assert "transaction() block" in str(info.value)


def test_mysql_connection_calls_go_through_the_chain(mysql_conninfo: str) -> None:
    conn = sturdydb.connect(mysql.connector.connect, mysql_conninfo, plugins="t_network_recorder")
    try:
        seen.clear()
        conn.start_transaction()
        conn.ping()
        conn.rollback()
        assert seen == ["Connection.start_transaction", "Connection.ping", "Connection.rollback"]
        seen.clear()
        result = conn.cmd_query("SELECT 1")
        assert "columns" in result
        conn.get_rows()
        assert seen == ["Connection.cmd_query"]
    finally:
        conn.close()


def test_socket_timeout_bounds_a_copy(pg_conninfo: str) -> None:
    conn = sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="", socket_timeout=0.5, autocommit=True)
    cur = conn.cursor()
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError) as info, cur.copy("COPY (SELECT pg_sleep(5)) TO STDOUT") as copy:
        list(copy)
    assert time.monotonic() - started < 4.5  # generous: it did not wait for the server
    assert "Cursor.copy" in str(info.value)
    conn.close()


def test_socket_timeout_bounds_a_stream(pg_conninfo: str) -> None:
    conn = sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="", socket_timeout=0.5, autocommit=True)
    cur = conn.cursor()
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError) as info:
        list(cur.stream("SELECT 1, pg_sleep(5)"))
    assert time.monotonic() - started < 4.5
    assert "Cursor.stream" in str(info.value)
    conn.close()
