"""Driver dialect details on the real servers: socket identities over Unix sockets, is_closed.

The abort path shuts a socket down only if it is still the one recorded at connect. Over a
Unix-domain socket every client connection has the same addresses (local '' and the server's
socket path), so the identity must carry something unique to the socket: its inode.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import mysql.connector
import psycopg
import pytest
from conftest import MYSQL_KWARGS, PG_CONNINFO

import sturdydb
from sturdydb._drivers import driver_dialect_for
from sturdydb._drivers.base import shutdown_fd, socket_identity

PG_SOCKET_DIR = "/var/run/postgresql"
MYSQL_SOCKET = "/run/mysqld/mysqld.sock"


def _pg_unix() -> psycopg.Connection[Any]:
    return psycopg.connect(f"host={PG_SOCKET_DIR} dbname=test user=postgres", autocommit=True)


def _mysql_unix() -> Any:
    return mysql.connector.connect(unix_socket=MYSQL_SOCKET, user="root", password="", database="test",
                                   use_pure=True, autocommit=True)


def _pg_alive(conn: Any) -> bool:
    return bool(conn.execute("SELECT 1").fetchone() == (1,))


def _mysql_alive(conn: Any) -> bool:
    cur = conn.cursor()
    cur.execute("SELECT 1")
    ok = cur.fetchall() == [(1,)]
    cur.close()
    return ok


UNIX_CASES = {
    "pg": (psycopg.Connection.connect, _pg_unix, _pg_alive, os.path.join(PG_SOCKET_DIR, ".s.PGSQL.5432")),
    "mysql": (mysql.connector.connect, _mysql_unix, _mysql_alive, MYSQL_SOCKET),
}


@pytest.fixture(params=sorted(UNIX_CASES))
def unix_case(request: pytest.FixtureRequest) -> tuple[Any, Callable[[], Any], Callable[[Any], bool]]:
    target, opener, alive, path = UNIX_CASES[request.param]
    if not os.path.exists(path):  # pragma: no cover - both servers listen there on this machine
        pytest.fail(f"the local server's Unix socket {path} is missing")
    return target, opener, alive


def test_unix_socket_identities_tell_connections_apart(
    unix_case: tuple[Any, Callable[[], Any], Callable[[Any], bool]],
) -> None:
    target, opener, alive = unix_case
    driver = driver_dialect_for(target)
    first, second = opener(), opener()
    try:
        fd_first, fd_second = driver.socket_fd(first), driver.socket_fd(second)
        assert fd_first is not None and fd_second is not None
        id_first, id_second = socket_identity(fd_first), socket_identity(fd_second)
        assert id_first is not None and id_second is not None
        # Same addresses (that is the trap), different sockets.
        assert id_first[:2] == id_second[:2]
        assert id_first != id_second
        # The abort of a connection whose descriptor now names another socket leaves it alone.
        assert shutdown_fd(fd_second, id_first) is False
        assert alive(second)
        # Its own identity matches, so its own abort works.
        assert shutdown_fd(fd_first, id_first) is True
        with pytest.raises(driver.module.Error):
            alive(first)
    finally:
        for conn in (first, second):
            try:
                conn.close()
            except Exception:
                pass


def test_sturdydb_records_a_unix_socket_identity_that_matches_only_its_own_socket() -> None:
    conn = sturdydb.connect(psycopg.Connection.connect, f"host={PG_SOCKET_DIR} dbname=test user=postgres",
                            plugins="", socket_timeout=30)
    other = _pg_unix()
    try:
        driver = conn.context.driver
        identity = driver._identities.get(conn.target_connection)
        fd = driver.socket_fd(conn.target_connection)
        assert identity is not None and fd is not None
        assert identity == socket_identity(fd)
        assert shutdown_fd(other.pgconn.socket, identity) is False
        assert _pg_alive(other)
    finally:
        other.close()
        conn.close()


@pytest.mark.parametrize("use_pure", [True], ids=["pure"])
def test_mysql_is_closed_after_close(use_pure: bool) -> None:
    driver = driver_dialect_for(mysql.connector.connect)
    raw = mysql.connector.connect(**MYSQL_KWARGS, use_pure=use_pure)
    assert driver.is_closed(raw) is False
    raw.close()
    assert driver.is_closed(raw) is True


def test_pg_is_closed_after_close() -> None:
    driver = driver_dialect_for(psycopg.Connection.connect)
    raw = psycopg.connect(PG_CONNINFO)
    assert driver.is_closed(raw) is False
    raw.close()
    assert driver.is_closed(raw) is True


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_wrapped_connection_reports_closed_through_the_dialect(engine: str) -> None:
    if engine == "pg":
        conn = sturdydb.connect(psycopg.Connection.connect, PG_CONNINFO, plugins="")
    else:
        conn = sturdydb.connect(mysql.connector.connect, **MYSQL_KWARGS, plugins="", use_pure=True)
    raw = conn.target_connection
    assert conn.context.driver.is_closed(raw) is False
    conn.close()
    assert conn.context.driver.is_closed(raw) is True
    assert conn.closed


# -- session attributes, probes and the context manager, all through the dialect ---------------


def test_pg_read_only_and_isolation_level_go_through_the_dialect() -> None:
    conn = sturdydb.connect(psycopg.Connection.connect, PG_CONNINFO, plugins="")
    try:
        conn.read_only = True
        assert conn.read_only is True and conn.target_connection.read_only is True
        # None means "the server's default" in psycopg: it must reach the driver, not be
        # skipped as "never set".
        conn.read_only = None
        assert conn.target_connection.read_only is None and conn.read_only is None
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        assert conn.isolation_level == psycopg.IsolationLevel.REPEATABLE_READ
        assert conn.execute("SHOW transaction_isolation").fetchone() == ("repeatable read",)
        conn.rollback()
    finally:
        conn.close()


def test_mysql_read_only_and_isolation_level_go_through_the_dialect(table_name: str) -> None:
    conn = sturdydb.connect(mysql.connector.connect, **MYSQL_KWARGS, plugins="", use_pure=True)
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {table_name} (id INT PRIMARY KEY)")
        conn.read_only = True
        assert conn.read_only is True
        with pytest.raises(mysql.connector.Error) as info:
            cur.execute(f"INSERT INTO {table_name} VALUES (1)")
        assert info.value.errno == 1792  # the server enforces what the setter asked for
        conn.rollback()
        conn.read_only = False
        cur.execute(f"INSERT INTO {table_name} VALUES (1)")
        conn.commit()
        conn.isolation_level = "serializable"
        assert conn.isolation_level == "serializable"
        cur.execute("SELECT @@session.tx_isolation")
        assert cur.fetchall() == [("SERIALIZABLE",)]
        with pytest.raises(ValueError, match="unknown isolation level"):
            conn.isolation_level = "sometimes"
        cur.execute(f"DROP TABLE {table_name}")
    finally:
        conn.close()


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_the_dialect_probe_is_one_select_and_fails_on_a_dead_connection(engine: str) -> None:
    if engine == "pg":
        driver = driver_dialect_for(psycopg.Connection.connect)
        raw: Any = psycopg.connect(PG_CONNINFO, autocommit=True)
    else:
        driver = driver_dialect_for(mysql.connector.connect)
        raw = mysql.connector.connect(**MYSQL_KWARGS, use_pure=True, autocommit=True)
    try:
        driver.probe(raw)
        driver.probe(raw)  # leaves nothing pending: a second probe works as well
        driver.abort_connection(raw)
        with pytest.raises(driver.module.Error) as info:
            driver.probe(raw)
        assert driver.is_network_error(info.value)
    finally:
        driver.close_quietly(raw)


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_leaving_a_with_block_does_what_the_driver_does(engine: str, table_name: str) -> None:
    # psycopg commits when a `with connection:` block ends without error; mysql-connector
    # only closes (the open transaction is rolled back by the server).
    if engine == "pg":
        opener = lambda: sturdydb.connect(psycopg.Connection.connect, PG_CONNINFO, plugins="")  # noqa: E731
    else:
        opener = lambda: sturdydb.connect(mysql.connector.connect, **MYSQL_KWARGS, plugins="")  # noqa: E731
    setup = opener()
    setup.cursor().execute(f"CREATE TABLE {table_name} (id INT PRIMARY KEY)")
    setup.commit()
    try:
        with opener() as conn:
            conn.cursor().execute(f"INSERT INTO {table_name} VALUES (1)")
        cur = setup.cursor()
        cur.execute(f"SELECT count(*) FROM {table_name}")
        assert cur.fetchall()[0][0] == (1 if engine == "pg" else 0)
        assert conn.closed
    finally:
        setup.rollback()
        setup.cursor().execute(f"DROP TABLE {table_name}")
        setup.commit()
        setup.close()
