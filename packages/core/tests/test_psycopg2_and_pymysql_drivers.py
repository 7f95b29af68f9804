"""psycopg2 and PyMySQL as first-class drivers, and detection that never mistakes one driver for another.

Against the machine's real servers: each driver is recognised from its own connect function
(``psycopg2`` is not psycopg, ``pymysql`` is not mysql-connector), an unknown one is refused with
the supported list, and each new dialect does what the others do: native timeouts, abort of a
call blocked on a silent host, server-side cancel, transaction status, session state.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from typing import Any

import mysql.connector
import psycopg
import psycopg2
import psycopg2.extensions
import pymysql
import pymysql.cursors
import pytest
from conftest import MYSQL_KWARGS, PG_CONNINFO

import sturdydb
from sturdydb._drivers import SUPPORTED_DRIVERS, driver_dialect_for
from sturdydb._errors import QueryTimeoutError
from sturdydb_testing.relay import Relay

PG2 = driver_dialect_for(psycopg2.connect)
PYMY = driver_dialect_for(pymysql.connect)


# -- detection ---------------------------------------------------------------------------------

class _AppConnection(psycopg.Connection):  # type: ignore[type-arg]
    """An application's subclass of a driver's connection class."""


class _AppPyMysqlConnection(pymysql.connections.Connection):
    pass


@pytest.mark.parametrize(("target", "expected"), [
    (psycopg.Connection.connect, "psycopg"),
    (psycopg.connect, "psycopg"),
    (_AppConnection.connect, "psycopg"),
    (psycopg2.connect, "psycopg2"),
    (functools.partial(psycopg2.connect, connect_timeout=5), "psycopg2"),
    (mysql.connector.connect, "mysql-connector-python"),
    (mysql.connector.Connect, "mysql-connector-python"),
    (pymysql.connect, "pymysql"),
    (pymysql.Connect, "pymysql"),
    (pymysql.connections.Connection, "pymysql"),
    (_AppPyMysqlConnection, "pymysql"),
], ids=lambda v: getattr(v, "__qualname__", None) or str(v))
def test_each_driver_is_recognised_from_its_own_connect_function(target: Any, expected: str) -> None:
    assert driver_dialect_for(target).name == expected


@pytest.mark.parametrize("plugins", [{}, {"plugins": "failover"}], ids=["default chain", "failover"])
def test_an_unknown_driver_is_refused_naming_the_supported_ones_and_the_fix(plugins: dict[str, str]) -> None:
    def my_connect(**kwargs: Any) -> Any:
        raise AssertionError("never called")

    with pytest.raises(sturdydb.ConfigurationError) as info:
        sturdydb.connect(my_connect, "host=127.0.0.1", **plugins)
    message = str(info.value)
    for name in ("psycopg 3", "psycopg2", "mysql-connector-python", "PyMySQL", "wrapper_driver_dialect",
                 'plugins=""'):
        assert name in message, message
    assert set(SUPPORTED_DRIVERS) == {"psycopg", "psycopg2", "mysql-connector-python", "pymysql"}


def test_wrapper_driver_dialect_names_the_new_drivers(pg_conninfo: str) -> None:
    # A function that wraps the driver: the property says which driver it is.
    def my_connect(**kwargs: Any) -> Any:
        return psycopg2.connect(**kwargs)

    with sturdydb.connect(my_connect, pg_conninfo, plugins="", wrapper_driver_dialect="psycopg2-binary") as conn:
        assert conn.context.driver.name == "psycopg2"
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
    assert driver_dialect_for(print, "pymysql").name == "pymysql"


# -- psycopg2 -------------------------------------------------------------------------------------

@pytest.fixture
def pg2_wrapped() -> Iterator[sturdydb.Connection]:
    conn = sturdydb.connect(psycopg2.connect, PG_CONNINFO, plugins="")
    yield conn
    if not conn.closed:
        conn.close()


def test_psycopg2_runs_through_sturdydb_with_its_own_semantics(pg2_wrapped: sturdydb.Connection) -> None:
    conn = pg2_wrapped
    raw = conn.target_connection
    assert isinstance(raw, psycopg2.extensions.connection)
    assert conn.context.dialect.code == "pg"
    cur = conn.cursor()
    cur.execute("SELECT %s + 1", (41,))
    assert cur.fetchone() == (42,)
    assert PG2.in_transaction(raw)  # psycopg2 opened a transaction (not autocommit)
    conn.rollback()
    assert not PG2.in_transaction(raw)
    conn.autocommit = True
    assert conn.autocommit is True and raw.autocommit is True
    conn.read_only = True
    assert conn.read_only is True and raw.readonly is True
    conn.isolation_level = psycopg2.extensions.ISOLATION_LEVEL_SERIALIZABLE
    assert conn.isolation_level == psycopg2.extensions.ISOLATION_LEVEL_SERIALIZABLE
    state = PG2.read_session_state(raw)
    assert (state.autocommit, state.read_only, state.database) == (True, True, "test")
    # Session state carried to a fresh connection, as failover does.
    fresh = psycopg2.connect(PG_CONNINFO)
    try:
        PG2.apply_session_state(fresh, state)
        assert fresh.autocommit is True and fresh.readonly is True
        assert PG2.read_session_state(fresh).schema == state.schema
    finally:
        fresh.close()


def test_psycopg2_with_block_commits_and_leaves_the_connection_open(pg2_wrapped: sturdydb.Connection,
                                                                    table_name: str) -> None:
    conn = pg2_wrapped
    with conn:
        conn.cursor().execute(f"CREATE TABLE {table_name} (i int)")
    assert not conn.closed  # psycopg2's with-block ends the transaction only
    try:
        check = psycopg2.connect(PG_CONNINFO)
        cur = check.cursor()
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table_name,))
        assert cur.fetchone() == (True,)  # committed
        check.close()
    finally:
        conn.rollback()
        conn.autocommit = True
        conn.cursor().execute(f"DROP TABLE IF EXISTS {table_name}")


def test_psycopg2_named_cursors_are_server_side(pg2_wrapped: sturdydb.Connection) -> None:
    named = pg2_wrapped.cursor("sturdydb_named")
    plain = pg2_wrapped.cursor()
    assert PG2.cursor_is_server_side(named.target_cursor)
    assert not PG2.cursor_is_server_side(plain.target_cursor)
    named.execute("SELECT generate_series(1, 5)")
    assert [r[0] for r in named.fetchmany(3)] == [1, 2, 3]
    assert [r[0] for r in named.fetchall()] == [4, 5]
    named.close()


def test_psycopg2_native_timeouts_and_keepalives_reach_libpq(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg2.connect, pg_conninfo, plugins="", connect_timeout=3, tcp_keepalive=True,
                          tcp_keepalive_time=30, socket_timeout=4) as conn:
        dsn = conn.target_connection.dsn
        for part in ("connect_timeout=3", "keepalives=1", "keepalives_idle=30", "tcp_user_timeout=4000"):
            assert part in dsn, dsn
    conn.close()


def test_psycopg2_transaction_status_before_a_broken_call_is_kept(pg2_wrapped: sturdydb.Connection) -> None:
    raw = pg2_wrapped.target_connection
    reader = PG2.transaction_status_reader()
    assert reader is not None
    cur = raw.cursor()
    cur.execute("SELECT 1")
    before = reader(raw)
    PG2.abort_connection(raw)
    with pytest.raises(psycopg2.OperationalError) as info:
        cur.execute("SELECT 1")
    assert PG2.is_network_error(info.value)
    assert PG2.is_closed(raw)
    assert reader(raw) == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN  # libpq forgot
    assert PG2.in_transaction_before(raw, before)  # but the status read before still tells
    with pytest.raises(psycopg2.InterfaceError) as again:
        raw.cursor()
    assert PG2.is_unsent_error(again.value) and PG2.is_network_error(again.value)
    assert PG2.socket_fd(raw) is None


def test_a_psycopg2_cursor_of_a_closed_connection_is_told_from_one_the_application_closed() -> None:
    raw = psycopg2.connect(PG_CONNINFO)
    closed_by_app = raw.cursor()
    closed_by_app.close()
    with pytest.raises(psycopg2.InterfaceError) as own:
        closed_by_app.execute("SELECT 1")
    # The application's own mistake on an open connection: no lost connection, no failover.
    assert not PG2.is_closed_connection_error(own.value, raw)
    assert not PG2.is_network_error(own.value)
    orphan = raw.cursor()
    orphan.execute("SELECT 1")
    raw.close()
    with pytest.raises(psycopg2.InterfaceError) as refused:
        orphan.execute("SELECT 2")
    assert PG2.is_closed_connection_error(refused.value, raw)
    assert PG2.is_unsent_error(refused.value)  # refused before any I/O
    with pytest.raises(psycopg2.InterfaceError):
        orphan.fetchall()  # even a result already in memory: hence results_outlive_connection
    assert not PG2.results_outlive_connection and PYMY.results_outlive_connection
    assert not PYMY.is_closed_connection_error(refused.value, raw)


def test_psycopg2_cancel_stops_the_statement_and_keeps_the_connection(pg_conninfo: str) -> None:
    raw = psycopg2.connect(pg_conninfo)
    raw.autocommit = True
    try:
        acknowledged: list[bool] = []

        def cancel() -> None:
            time.sleep(0.5)
            acknowledged.append(PG2.cancel_statement(raw, 5, lambda: psycopg2.connect(pg_conninfo)))

        thread = threading.Thread(target=cancel, name="test-cancel", daemon=True)
        thread.start()
        with pytest.raises(psycopg2.Error) as info:
            raw.cursor().execute("SELECT pg_sleep(30)")
        thread.join(10)
        assert acknowledged == [True]
        assert info.value.pgcode == "57014"
        assert PG2.is_cancel_error(info.value) and not PG2.is_network_error(info.value)
        cur = raw.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    finally:
        raw.close()


# -- PyMySQL -------------------------------------------------------------------------------------

@pytest.fixture
def pymysql_wrapped() -> Iterator[sturdydb.Connection]:
    conn = sturdydb.connect(pymysql.connect, plugins="", **MYSQL_KWARGS)
    yield conn
    conn.close()


def test_pymysql_runs_through_sturdydb_with_its_own_semantics(pymysql_wrapped: sturdydb.Connection) -> None:
    conn = pymysql_wrapped
    raw = conn.target_connection
    assert isinstance(raw, pymysql.connections.Connection)
    assert conn.context.dialect.code == "mysql"
    cur = conn.cursor()
    cur.execute("SELECT %s + 1", (41,))
    assert cur.fetchone() == (42,)
    # autocommit reads like an attribute and also works as PyMySQL's method.
    assert not conn.autocommit
    conn.autocommit(True)
    assert conn.autocommit and raw.get_autocommit() is True
    assert conn.context.session.autocommit is True  # went through sturdydb
    conn.autocommit = False
    assert not conn.autocommit and raw.get_autocommit() is False
    conn.database = "mysql"
    assert conn.database == "mysql"
    cur = conn.cursor()
    cur.execute("SELECT DATABASE()")
    assert cur.fetchone() == ("mysql",)
    conn.read_only = True
    state = PYMY.read_session_state(raw)
    assert (state.autocommit, state.read_only, state.database) == (False, True, "mysql")
    fresh = pymysql.connect(**MYSQL_KWARGS)
    try:
        PYMY.apply_session_state(fresh, state)
        assert PYMY.read_session_state(fresh) == state
    finally:
        fresh.close()


def test_pymysql_transaction_status_and_closed_state(pymysql_wrapped: sturdydb.Connection) -> None:
    raw = pymysql_wrapped.target_connection
    assert PYMY.transaction_status_reader() is None  # the server's last status flags are kept
    cur = raw.cursor()
    cur.execute("START TRANSACTION")
    assert PYMY.in_transaction(raw)
    PYMY.abort_connection(raw)
    with pytest.raises(pymysql.Error) as info:
        cur.execute("SELECT 1")
    assert PYMY.is_network_error(info.value), info.value
    assert PYMY.in_transaction(raw)  # still known after the break
    assert PYMY.is_closed(raw)
    with pytest.raises(pymysql.Error) as again:
        raw.cursor().execute("SELECT 1")
    assert PYMY.is_unsent_error(again.value) and PYMY.is_network_error(again.value)
    assert PYMY.socket_fd(raw) is None


def test_pymysql_unbuffered_cursors_are_server_side(pymysql_wrapped: sturdydb.Connection) -> None:
    streaming = pymysql_wrapped.cursor(pymysql.cursors.SSCursor)
    plain = pymysql_wrapped.cursor()
    assert PYMY.cursor_is_server_side(streaming.target_cursor)
    assert not PYMY.cursor_is_server_side(plain.target_cursor)
    assert not PYMY.fetch_result_is_complete(streaming.target_cursor)
    streaming.execute("SELECT seq FROM seq_1_to_5")
    assert [r[0] for r in streaming.fetchall()] == [1, 2, 3, 4, 5]


def test_pymysql_native_timeouts(mysql_relay: Relay) -> None:
    with sturdydb.connect(pymysql.connect, "", plugins="", host="127.0.0.1", port=str(mysql_relay.port),
                          user="root", password="", database="test", connect_timeout=3, socket_timeout=2,
                          auxiliary_query_timeout_sec=1) as conn:
        raw = conn.target_connection
        assert raw.connect_timeout == 3
        # A backstop behind the watchdog's cancel: socket_timeout + auxiliary timeout + 1.
        assert raw._read_timeout == 4 and raw._write_timeout == 4


def test_pymysql_kill_query_cancel_keeps_the_connection() -> None:
    raw = pymysql.connect(**MYSQL_KWARGS, autocommit=True)
    try:
        def cancel() -> None:
            time.sleep(0.5)
            acknowledged.append(PYMY.cancel_statement(raw, 5, lambda: pymysql.connect(**MYSQL_KWARGS)))

        acknowledged: list[bool] = []
        thread = threading.Thread(target=cancel, name="test-kill-query", daemon=True)
        thread.start()
        with pytest.raises(pymysql.Error) as info:
            raw.cursor().execute("SELECT sum(seq % 7) FROM seq_1_to_10000000000")
        thread.join(10)
        assert acknowledged == [True]
        assert PYMY.errno(info.value) == 1317
        assert PYMY.is_cancel_error(info.value) and not PYMY.is_network_error(info.value)
        cur = raw.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    finally:
        raw.close()


# -- abort and socket_timeout on a silent host, both new drivers --------------------------------

def _connect(driver: str, port: int, **props: Any) -> sturdydb.Connection:
    if driver == "psycopg2":
        return sturdydb.connect(psycopg2.connect, f"host=127.0.0.1 port={port} dbname=test user=postgres",
                                plugins="", **props)
    return sturdydb.connect(pymysql.connect, plugins="", **{**MYSQL_KWARGS, "port": port}, **props)


@pytest.mark.parametrize("driver", ["psycopg2", "pymysql"])
@pytest.mark.timeout(60)
def test_abort_unblocks_a_call_on_a_silent_host(driver: str, pg_relay: Relay, mysql_relay: Relay) -> None:
    relay = pg_relay if driver == "psycopg2" else mysql_relay
    conn = _connect(driver, relay.port)
    cur = conn.cursor()
    relay.pause()

    def abort() -> None:
        time.sleep(0.3)
        conn.context.driver.abort_connection(conn.target_connection)

    threading.Thread(target=abort, name="test-abort", daemon=True).start()
    with pytest.raises(conn.context.driver.module.Error) as info:
        cur.execute("SELECT 1")
    assert conn.context.driver.is_network_error(info.value), info.value
    assert conn.context.driver.is_closed(conn.target_connection)
    conn.close()


@pytest.mark.parametrize("driver", ["psycopg2", "pymysql"])
@pytest.mark.timeout(60)
def test_socket_timeout_ends_a_call_on_a_silent_host(driver: str, pg_relay: Relay, mysql_relay: Relay) -> None:
    relay = pg_relay if driver == "psycopg2" else mysql_relay
    conn = _connect(driver, relay.port, socket_timeout=0.5)
    cur = conn.cursor()
    relay.pause()
    with pytest.raises(QueryTimeoutError) as info:
        cur.execute("SELECT 1")
    error: Any = info.value
    assert isinstance(error, conn.context.driver.operational_error)
    assert conn.context.driver.is_network_error(error)
    assert "socket_timeout=0.5s" in str(error)
    conn.close()
    relay.close()  # the cancel's side connection to the silent host fails now
    # The cancel thread (its side connection went to the silent host) ends by itself, within
    # its bound: nothing of this test lingers into the next one.
    deadline = time.monotonic() + 30
    while any(t.name == "sturdydb-cancel" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name == "sturdydb-cancel"]


@pytest.mark.parametrize(("driver", "conninfo", "dialect", "database_dialect"), [
    ("psycopg2", PG_CONNINFO, "psycopg2", "pg"),
    ("pymysql", "mysql://root@127.0.0.1:3306/test", "pymysql", "mysql"),
])
def test_doctor_connects_with_the_new_drivers(capsys: pytest.CaptureFixture[str], driver: str, conninfo: str,
                                              dialect: str, database_dialect: str) -> None:
    import json

    from sturdydb._cli import main

    code = main(["doctor", conninfo, "--driver", driver, "--json", "plugins="])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["driver_dialect"] == dialect
    assert report["database_dialect"] == database_dialect


@pytest.mark.parametrize("driver", ["psycopg2", "pymysql"])
@pytest.mark.timeout(30)
def test_a_connect_to_a_host_that_never_greets_ends_within_connect_timeout(
    driver: str, pg_relay: Relay, mysql_relay: Relay
) -> None:
    # The host accepts TCP and then says nothing. PyMySQL reads the greeting with its
    # read_timeout (None: forever) after a connect bounded only by connect_timeout; a cancel's
    # side connection to a frozen host hung that way. Both drivers must give up in time.
    relay = pg_relay if driver == "psycopg2" else mysql_relay
    relay.pause()
    started = time.monotonic()
    with pytest.raises((psycopg2.OperationalError, pymysql.err.OperationalError)):
        _connect(driver, relay.port, connect_timeout=2)
    assert time.monotonic() - started < 20  # a bound, far from the timing of the connect itself


# -- PyMySQL's option-less TLS context, built once -----------------------------------------------

def test_pymysql_connects_share_the_option_less_tls_context_and_keep_tls_preferred() -> None:
    # No TLS option: PyMySQL's "TLS if offered" mode, whose context would be rebuilt (CA store
    # loaded) on every connect; through sturdydb both connections reuse one, unchanged.
    first = sturdydb.connect(pymysql.connect, **MYSQL_KWARGS)
    second = sturdydb.connect(pymysql.connect, **MYSQL_KWARGS)
    try:
        a, b = first.target_connection, second.target_connection
        assert isinstance(a, pymysql.connections.Connection)
        assert a.ctx is b.ctx
        assert a.ssl is True and a._ssl_required is False  # still preferred, never required
        fresh = pymysql.connections.Connection(defer_connect=True)
        assert (a.ctx.verify_mode, a.ctx.check_hostname, a.ctx.options) == (
            fresh.ctx.verify_mode, fresh.ctx.check_hostname, fresh.ctx.options)
        cur = first.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == ((1,),)
    finally:
        first.close()
        second.close()


def test_pymysql_tls_options_the_application_gives_take_pymysqls_own_path() -> None:
    shared = sturdydb.connect(pymysql.connect, **MYSQL_KWARGS).target_connection
    try:
        cls = type(shared)
        asked = cls(defer_connect=True, ssl_verify_cert=True)
        # A context built from the application's own options: new, required and verifying.
        assert asked.ctx is not shared.ctx
        assert asked._ssl_required is True
        assert asked.ctx.verify_mode != shared.ctx.verify_mode
        assert cls(defer_connect=True, ssl_disabled=True).ssl is False
    finally:
        shared.close()


def test_a_custom_pymysql_connection_class_keeps_its_own_tls_path() -> None:
    # The application's class is kept (under the subclass that reads the transaction status from
    # EOF packets, see test_mysql_transaction_status): its TLS context is its own, not shared.
    conn = sturdydb.connect(_AppPyMysqlConnection, **MYSQL_KWARGS)
    shared = sturdydb.connect(pymysql.connect, **MYSQL_KWARGS)
    try:
        raw = conn.target_connection
        assert isinstance(raw, _AppPyMysqlConnection)
        assert type(raw).__mro__[1] is _AppPyMysqlConnection
        assert raw.ctx is not shared.target_connection.ctx
    finally:
        conn.close()
        shared.close()
