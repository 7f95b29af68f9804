"""Aborting a hung connection from another thread, and ``socket_timeout`` through the watchdog.

The hung host is a relay that stops passing bytes (the kernel still acknowledges): without
sturdydb the call below would wait forever. The SIGSTOP variant against a real frozen server
is in ``tests/integration``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import mysql.connector
import psycopg
import pytest

import sturdydb
from sturdydb._errors import QueryTimeoutError
from sturdydb_testing.relay import Relay


def _abort_later(conn: sturdydb.Connection, delay: float) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        conn.context.driver.abort_connection(conn.target_connection)

    thread = threading.Thread(target=run, name="test-abort", daemon=True)
    thread.start()
    return thread


def test_pg_abort_unblocks_a_call_on_a_silent_host(pg_relay: Relay) -> None:
    conn = sturdydb.connect(psycopg.Connection.connect, f"host=127.0.0.1 port={pg_relay.port} dbname=test user=postgres",
                            plugins="")
    cur = conn.cursor()
    pg_relay.pause()
    _abort_later(conn, 0.3)
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError) as info:
        cur.execute("SELECT 1")
    assert time.monotonic() - started < 30  # generous: only proves it did not hang
    assert conn.context.driver.is_network_error(info.value)
    assert conn.context.driver.is_closed(conn.target_connection)
    conn.close()


def test_mysql_abort_unblocks_a_call_on_a_silent_host(mysql_relay: Relay) -> None:
    conn = sturdydb.connect(mysql.connector.connect, host="127.0.0.1", port=mysql_relay.port, user="root",
                            password="", database="test", plugins="")
    cur = conn.cursor()
    mysql_relay.pause()
    _abort_later(conn, 0.3)
    with pytest.raises(mysql.connector.Error) as info:
        cur.execute("SELECT 1")
        cur.fetchall()
    assert conn.context.driver.is_network_error(info.value)
    conn.close()


def test_abort_is_idempotent_and_safe_on_closed_connections(pg_wrapped: sturdydb.Connection) -> None:
    driver = pg_wrapped.context.driver
    raw = pg_wrapped.target_connection
    driver.abort_connection(raw)
    driver.abort_connection(raw)
    raw.close()
    driver.abort_connection(raw)
    assert driver.is_closed(raw)


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_socket_timeout_ends_a_call_on_a_silent_host(engine: str, pg_relay: Relay, mysql_relay: Relay) -> None:
    if engine == "pg":
        conn = sturdydb.connect(psycopg.Connection.connect,
                                f"host=127.0.0.1 port={pg_relay.port} dbname=test user=postgres",
                                plugins="", socket_timeout=0.5)
        relay = pg_relay
    else:
        conn = sturdydb.connect(mysql.connector.connect, host="127.0.0.1", port=mysql_relay.port, user="root",
                                password="", database="test", plugins="", socket_timeout=0.5)
        relay = mysql_relay
    assert "socket_timeout" in conn.context.pipeline.codes
    cur = conn.cursor()
    relay.pause()
    with pytest.raises(QueryTimeoutError) as info:
        cur.execute("SELECT 1")
    error: Any = info.value
    assert isinstance(error, conn.context.driver.operational_error)
    assert conn.context.driver.is_network_error(error)
    assert error.__cause__ is not None
    assert "socket_timeout=0.5s" in str(error)
    watchdog_threads = [t for t in threading.enumerate() if t.name == "sturdydb-watchdog"]
    assert watchdog_threads and all(t.daemon for t in watchdog_threads)
    conn.close()


def test_socket_timeout_leaves_fast_calls_alone(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="", socket_timeout=5) as conn:
        cur = conn.cursor()
        for _ in range(50):
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)


def test_release_resources_stops_the_watchdog(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="", socket_timeout=5) as conn:
        conn.cursor().execute("SELECT 1")
    assert any(t.name == "sturdydb-watchdog" for t in threading.enumerate())
    sturdydb.release_resources()
    deadline = time.monotonic() + 10
    while any(t.name == "sturdydb-watchdog" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "sturdydb-watchdog" for t in threading.enumerate())


def test_connect_timeout_maps_to_native_options(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="", connect_timeout=3,
                          tcp_keepalive=True, tcp_keepalive_time=30, socket_timeout=4) as conn:
        params = conn.info.get_parameters()
        dsn = conn.info.dsn
        assert "connect_timeout=3" in dsn and "keepalives=1" in dsn and "keepalives_idle=30" in dsn
        assert "tcp_user_timeout=4000" in dsn
        assert params is not None


def test_abort_leaves_a_reused_descriptor_alone(pg_conninfo: str) -> None:
    # Simulate the race: the connection's socket is closed and its descriptor number is
    # reused by another socket before the abort runs. The recorded identity must not match.


    from sturdydb._drivers.base import shutdown_fd, socket_identity

    # A chain that may abort (socket_timeout) records the socket's identity at connect.
    conn = sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="", socket_timeout=30)
    fd = conn.context.driver.socket_fd(conn.target_connection)
    assert fd is not None
    identity = conn.context.driver._identities.get(conn.target_connection)
    assert identity == socket_identity(fd)
    other = psycopg.connect(pg_conninfo)
    other_fd = other.pgconn.socket
    assert shutdown_fd(other_fd, identity) is False  # a different socket: left alone
    assert other.execute("SELECT 1").fetchone() == (1,)
    assert shutdown_fd(fd, identity) is True
    with pytest.raises(psycopg.OperationalError):
        conn.cursor().execute("SELECT 1")
    other.close()
    conn.close()



@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_a_timed_out_call_whose_connection_is_aborted_does_not_wait_for_its_cancel(
    engine: str, pg_relay: Relay, mysql_relay: Relay,
) -> None:
    # The deadline fired and a cancel request is on its way to a host that does not answer;
    # then another thread aborts the connection (as aurora_connection_tracker does once a new
    # writer is verified). A late cancel can hit no later statement on an aborted connection,
    # so the call ends now instead of when the cancel's bound (auxiliary_query_timeout_sec) passes.
    props: dict[str, Any] = {"plugins": "", "socket_timeout": 0.5, "auxiliary_query_timeout_sec": 20}
    if engine == "pg":
        conn = sturdydb.connect(psycopg.Connection.connect,
                                f"host=127.0.0.1 port={pg_relay.port} dbname=test user=postgres", **props)
        relay = pg_relay
    else:
        conn = sturdydb.connect(mysql.connector.connect, host="127.0.0.1", port=mysql_relay.port, user="root",
                                password="", database="test", **props)
        relay = mysql_relay
    cur = conn.cursor()
    relay.pause()
    _abort_later(conn, 1.5)
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError, match="the connection was aborted"):
        cur.execute("SELECT 1")
    # Ends about 1.5 s in, not when the cancel's 20 s bound passes (the margin is for load).
    assert time.monotonic() - started < 15
    # The cancel is still waiting for the silent host: the call did not wait for it.
    assert any(t.name == "sturdydb-cancel" and t.is_alive() for t in threading.enumerate())
    conn.close()
