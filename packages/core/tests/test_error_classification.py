"""Error classification against the real local servers: only a lost connection is a network error.

Every case below makes the server itself raise the error (a real provocation where one exists:
division by zero, a duplicate key, a deadlock, a lock or statement timeout, a read-only
transaction; ``RAISE``/``SIGNAL`` only for codes a healthy test server cannot be pushed into,
such as disk full). Each test first checks that the driver really reported the expected
SQLSTATE or errno, then that the dialect does not call it a network error, and finally that the
connection still works: exactly the fact that makes failing over on it wrong. The connection
losses at the end are real too: a backend terminated or killed by the server, a socket shut
down, a refused connect.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import mysql.connector
import psycopg
import pytest
from conftest import MYSQL_KWARGS, PG_CONNINFO

from sturdydb._drivers import driver_dialect_for
from sturdydb._drivers.base import DriverDialect, shutdown_fd

PG = driver_dialect_for(psycopg.Connection.connect)
MY = driver_dialect_for(mysql.connector.connect)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- PostgreSQL ------------------------------------------------------------------------------

PgCase = Callable[[psycopg.Connection[Any], Callable[[], psycopg.Connection[Any]], str], None]


def _pg(sql: str, *setup: str) -> PgCase:
    def run(conn: psycopg.Connection[Any], _other: Callable[[], psycopg.Connection[Any]], t: str) -> None:
        for statement in setup:
            conn.execute(statement.format(t=t))
        conn.execute(sql.format(t=t))

    return run


def _pg_raise(code: str) -> PgCase:
    # For SQLSTATEs a healthy test server cannot be driven into (disk full, out of memory,
    # internal error): the server raises them exactly as it would its own.
    return _pg(f"DO $$ BEGIN RAISE EXCEPTION 'provoked {code}' USING ERRCODE = '{code}'; END $$")


def _pg_lock_not_available(conn: psycopg.Connection[Any], other: Callable[[], psycopg.Connection[Any]], t: str) -> None:
    holder = other()
    holder.autocommit = False
    holder.execute(f"SELECT * FROM {t} WHERE id = 1 FOR UPDATE")
    conn.execute(f"SELECT * FROM {t} WHERE id = 1 FOR UPDATE NOWAIT")


def _pg_lock_timeout(conn: psycopg.Connection[Any], other: Callable[[], psycopg.Connection[Any]], t: str) -> None:
    holder = other()
    holder.autocommit = False
    holder.execute(f"SELECT * FROM {t} WHERE id = 1 FOR UPDATE")
    conn.execute("SET lock_timeout = '100ms'")
    conn.execute(f"UPDATE {t} SET v = 'x' WHERE id = 1")


def _pg_serialization(conn: psycopg.Connection[Any], other: Callable[[], psycopg.Connection[Any]], t: str) -> None:
    writer = other()
    conn.autocommit = False
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    conn.execute(f"SELECT * FROM {t}").fetchall()
    writer.execute(f"UPDATE {t} SET v = 'w' WHERE id = 1")
    conn.execute(f"UPDATE {t} SET v = 'c' WHERE id = 1")


def _pg_deadlock(conn: psycopg.Connection[Any], other: Callable[[], psycopg.Connection[Any]], t: str) -> None:
    peer = other()
    peer.autocommit = False
    conn.autocommit = False
    # Only the victim's session detects the deadlock quickly; the peer waits the default 1 s
    # and wins.
    conn.execute("SET deadlock_timeout = '50ms'")
    peer.execute("SET deadlock_timeout = '10s'")
    conn.execute(f"UPDATE {t} SET v = 'a' WHERE id = 1")
    peer.execute(f"UPDATE {t} SET v = 'b' WHERE id = 2")
    waiter = threading.Thread(target=lambda: _quietly(lambda: peer.execute(f"UPDATE {t} SET v = 'b' WHERE id = 1")),
                              name="test-deadlock-peer", daemon=True)
    waiter.start()
    time.sleep(0.2)  # let the peer queue behind our row lock first (not a timing assertion)
    try:
        conn.execute(f"UPDATE {t} SET v = 'a' WHERE id = 2")
    finally:
        conn.rollback()
        waiter.join(10)


def _pg_in_failed_transaction(conn: psycopg.Connection[Any], _other: Any, t: str) -> None:
    conn.autocommit = False
    _quietly(lambda: conn.execute("SELECT 1/0"))
    conn.execute("SELECT 1")


def _pg_cancelled(conn: psycopg.Connection[Any], other: Callable[[], psycopg.Connection[Any]], t: str) -> None:
    canceller = other()
    pid = conn.info.backend_pid

    def cancel() -> None:
        # Once the statement runs (a cancel of an idle backend would do nothing).
        for _ in range(1000):
            row = canceller.execute("SELECT query FROM pg_stat_activity WHERE pid = %s AND state = 'active'",
                                    [pid]).fetchone()
            if row is not None and "pg_sleep" in row[0]:
                break
            time.sleep(0.01)
        canceller.execute("SELECT pg_cancel_backend(%s)", [pid])

    thread = threading.Thread(target=cancel, name="test-canceller", daemon=True)
    thread.start()
    try:
        conn.execute("SELECT pg_sleep(10)")
    finally:
        thread.join(10)


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:
        pass


PG_SERVER_ERRORS: list[tuple[str, PgCase]] = [
    ("22012", _pg("SELECT 1/0")),                                                     # division_by_zero
    ("23505", _pg("INSERT INTO {t} VALUES (1, 'dup')")),                              # unique_violation
    ("42601", _pg("SELEC 1")),                                                        # syntax_error
    ("42P01", _pg("SELECT * FROM no_such_table_{t}")),                                # undefined_table
    ("42703", _pg("SELECT no_such_column FROM {t}")),                                 # undefined_column
    ("42883", _pg("SELECT no_such_function_xyz()")),                                  # undefined_function
    ("22P02", _pg("SELECT 'x'::int")),                                                # invalid_text_representation
    ("22003", _pg("SELECT 2147483647::int + 1")),                                     # numeric_value_out_of_range
    ("22001", _pg("INSERT INTO {t} VALUES (9, 'far too long for the column')")),      # string_data_right_truncation
    ("23502", _pg("INSERT INTO {t} (id) VALUES (NULL)")),                             # not_null_violation
    ("23514", _pg("INSERT INTO {t} VALUES (-1, 'neg')")),                             # check_violation
    ("23503", _pg("INSERT INTO {t}_child VALUES (42)")),                              # foreign_key_violation
    ("42P07", _pg("CREATE TABLE {t} (id int)")),                                      # duplicate_table
    ("21000", _pg("SELECT (SELECT generate_series(1, 2))")),                          # cardinality_violation
    ("2201B", _pg("SELECT 'a' ~ '('")),                                               # invalid_regular_expression
    ("22007", _pg("SELECT 'not a date'::date")),                                      # invalid_datetime_format
    ("55000", _pg("SELECT currval('{t}_seq')", "CREATE TEMP SEQUENCE {t}_seq")),      # object_not_in_prerequisite_state
    ("34000", _pg("FETCH NEXT FROM no_such_cursor")),                                 # invalid_cursor_name
    ("0A000", _pg("SELECT count(*) FROM {t} FOR UPDATE")),                            # feature_not_supported
    ("57014", _pg("SELECT pg_sleep(5)", "SET statement_timeout = '100ms'")),          # query_canceled (statement_timeout)
    ("57014", _pg_cancelled),                                                         # query_canceled (pg_cancel_backend)
    ("55P03", _pg_lock_not_available),                                                # lock_not_available (NOWAIT)
    ("55P03", _pg_lock_timeout),                                                      # lock_not_available (lock_timeout)
    ("40001", _pg_serialization),                                                     # serialization_failure
    ("40P01", _pg_deadlock),                                                          # deadlock_detected
    ("25P02", _pg_in_failed_transaction),                                             # in_failed_sql_transaction
    ("25006", _pg("INSERT INTO {t} VALUES (5, 'ro')",                                 # read_only_sql_transaction
                  "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")),
    ("58P01", _pg("SELECT pg_read_file('/nonexistent/sturdydb-file')")),              # undefined_file
    ("42501", _pg("SELECT pg_read_file('/etc/hostname')", "SET ROLE pg_monitor")),    # insufficient_privilege
    ("XX000", _pg_raise("XX000")),                                                    # internal_error
    ("XX001", _pg_raise("XX001")),                                                    # data_corrupted
    ("53100", _pg_raise("53100")),                                                    # disk_full
    ("53200", _pg_raise("53200")),                                                    # out_of_memory
    ("53300", _pg_raise("53300")),                                                    # too_many_connections
    ("58030", _pg_raise("58030")),                                                    # io_error
    ("F0000", _pg_raise("F0000")),                                                    # config_file_error
]


@pytest.fixture
def pg_env() -> Iterator[tuple[psycopg.Connection[Any], Callable[[], psycopg.Connection[Any]], str]]:
    t = f"cls_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(PG_CONNINFO, autocommit=True)
    admin.execute(f"CREATE TABLE {t} (id int PRIMARY KEY CHECK (id >= 0), v varchar(10) NOT NULL)")
    admin.execute(f"INSERT INTO {t} VALUES (1, 'one'), (2, 'two')")
    admin.execute(f"CREATE TABLE {t}_child (parent int REFERENCES {t} (id))")
    opened: list[psycopg.Connection[Any]] = []

    def other() -> psycopg.Connection[Any]:
        conn = psycopg.connect(PG_CONNINFO, autocommit=True)
        opened.append(conn)
        return conn

    conn = other()
    yield conn, other, t
    for c in opened:
        c.close()
    admin.execute(f"DROP TABLE {t}_child, {t}")
    admin.close()


@pytest.mark.parametrize(("sqlstate", "provoke"), PG_SERVER_ERRORS,
                         ids=[f"{s}-{i}" for i, (s, _) in enumerate(PG_SERVER_ERRORS)])
@pytest.mark.timeout(60)
def test_pg_errors_of_a_healthy_server_are_not_network_errors(
    pg_env: tuple[psycopg.Connection[Any], Callable[[], psycopg.Connection[Any]], str],
    sqlstate: str, provoke: PgCase,
) -> None:
    conn, other, t = pg_env
    pid = conn.info.backend_pid
    with pytest.raises(psycopg.Error) as caught:
        provoke(conn, other, t)
    assert caught.value.sqlstate == sqlstate, caught.value  # the server really raised it
    assert not PG.is_network_error(caught.value)
    assert not PG.is_login_error(caught.value)
    assert PG.is_read_only_error(caught.value) is (sqlstate == "25006")
    # The session survived: failing over would have thrown away a working connection.
    if not conn.autocommit:
        conn.rollback()
    assert not PG.is_closed(conn)
    assert conn.execute("SELECT pg_backend_pid()").fetchone() == (pid,)


@pytest.mark.timeout(60)
def test_pg_terminated_backend_is_a_network_error(pg_raw: psycopg.Connection[Any]) -> None:
    victim = psycopg.connect(PG_CONNINFO, autocommit=True)
    try:
        pid = victim.info.backend_pid
        pg_raw.autocommit = True
        assert pg_raw.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone() == (True,)
        with pytest.raises(psycopg.OperationalError) as caught:
            victim.execute("SELECT 1")
        # libpq reports the server's FATAL 57P01, or only the closed socket if it read that first.
        assert caught.value.sqlstate in ("57P01", None), caught.value
        assert PG.is_network_error(caught.value)
        assert PG.is_closed(victim)
        # Every later call on the dead connection is a network error too.
        with pytest.raises(psycopg.OperationalError) as again:
            victim.execute("SELECT 1")
        assert again.value.sqlstate is None
        assert PG.is_network_error(again.value)
    finally:
        victim.close()


@pytest.mark.timeout(60)
def test_pg_socket_shut_down_is_a_network_error() -> None:
    victim = psycopg.connect(PG_CONNINFO, autocommit=True)
    try:
        assert shutdown_fd(victim.pgconn.socket)
        with pytest.raises(psycopg.OperationalError) as caught:
            victim.execute("SELECT 1")
        assert caught.value.sqlstate is None
        assert PG.is_network_error(caught.value), caught.value
    finally:
        victim.close()


@pytest.mark.timeout(60)
def test_pg_refused_connect_is_a_network_error() -> None:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(f"host=127.0.0.1 port={_free_port()} dbname=test user=postgres connect_timeout=5")
    assert PG.is_network_error(caught.value)


# -- MariaDB -----------------------------------------------------------------------------------

MyCase = Callable[[Any, Callable[[], Any], str], None]


def _my(sql: str, *setup: str) -> MyCase:
    def run(conn: Any, _other: Callable[[], Any], t: str) -> None:
        cur = conn.cursor()
        try:
            for statement in setup:
                cur.execute(statement.format(t=t))
            cur.execute(sql.format(t=t))
            if cur.with_rows:
                cur.fetchall()
        finally:
            cur.close()

    return run


def _my_signal(errno: int, sqlstate: str = "HY000", message: str = "provoked") -> MyCase:
    return _my(f"SIGNAL SQLSTATE '{sqlstate}' SET MYSQL_ERRNO = {errno}, MESSAGE_TEXT = '{message}'")


def _my_exec(conn: Any, sql: str) -> None:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        if cur.with_rows:
            cur.fetchall()
    finally:
        cur.close()


def _my_lock_wait(conn: Any, other: Callable[[], Any], t: str) -> None:
    holder = other()
    holder.autocommit = False
    _my_exec(holder, f"SELECT * FROM {t} WHERE id = 1 FOR UPDATE")
    _my_exec(conn, "SET SESSION innodb_lock_wait_timeout = 1")
    _my_exec(conn, f"UPDATE {t} SET v = 'x' WHERE id = 1")


def _my_deadlock(conn: Any, other: Callable[[], Any], t: str) -> None:
    peer = other()
    peer.autocommit = False
    conn.autocommit = False
    _my_exec(conn, f"UPDATE {t} SET v = 'a' WHERE id = 1")
    # InnoDB rolls back the lighter transaction of a deadlock: the peer writes more rows, so
    # the victim is always ours.
    _my_exec(peer, f"INSERT INTO {t} VALUES (10, 'w'), (11, 'w'), (12, 'w'), (13, 'w'), (14, 'w')")
    _my_exec(peer, f"UPDATE {t} SET v = 'b' WHERE id = 2")
    waiter = threading.Thread(target=lambda: _quietly(lambda: _my_exec(peer, f"UPDATE {t} SET v = 'b' WHERE id = 1")),
                              name="test-deadlock-peer", daemon=True)
    waiter.start()
    time.sleep(0.3)  # let the peer queue behind our row lock first (not a timing assertion)
    try:
        _my_exec(conn, f"UPDATE {t} SET v = 'a' WHERE id = 2")
    finally:
        conn.rollback()
        waiter.join(10)
        _quietly(peer.rollback)


def _my_read_only_transaction(conn: Any, _other: Any, t: str) -> None:
    _my_exec(conn, "START TRANSACTION READ ONLY")
    try:
        _my_exec(conn, f"INSERT INTO {t} VALUES (7, 'ro')")
    finally:
        conn.rollback()


def _my_query_killed(conn: Any, other: Callable[[], Any], t: str) -> None:
    killer = other()
    cid = conn.connection_id

    def kill() -> None:
        # Once the statement runs (a KILL QUERY of an idle session would do nothing).
        cur = killer.cursor()
        for _ in range(1000):
            cur.execute(f"SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = {cid}")
            rows = cur.fetchall()
            if rows and rows[0][0] and "seq_1_to" in str(rows[0][0]):
                break
            time.sleep(0.01)
        cur.close()
        _my_exec(killer, f"KILL QUERY {cid}")

    thread = threading.Thread(target=kill, name="test-kill-query", daemon=True)
    thread.start()
    try:
        # SLEEP() returns 1 when killed; a query reading rows is interrupted with an error.
        _my_exec(conn, "SELECT sum(seq % 7) FROM seq_1_to_1000000000")
    finally:
        thread.join(10)


MY_SERVER_ERRORS: list[tuple[int, MyCase]] = [
    (1062, _my("INSERT INTO {t} VALUES (1, 'dup')")),                                  # ER_DUP_ENTRY
    (1146, _my("SELECT * FROM no_such_table_{t}")),                                    # ER_NO_SUCH_TABLE
    (1064, _my("SELEC 1")),                                                            # ER_PARSE_ERROR
    (1054, _my("SELECT no_such_column FROM {t}")),                                     # ER_BAD_FIELD_ERROR
    (1049, _my("USE no_such_database_xyz")),                                           # ER_BAD_DB_ERROR
    (1050, _my("CREATE TABLE {t} (id int)")),                                          # ER_TABLE_EXISTS_ERROR
    (1051, _my("DROP TABLE no_such_table_{t}")),                                       # ER_BAD_TABLE_ERROR
    (1305, _my("SELECT test.no_such_function_xyz()")),                                 # ER_SP_DOES_NOT_EXIST
    (1048, _my("INSERT INTO {t} VALUES (3, NULL)")),                                   # ER_BAD_NULL_ERROR
    (1406, _my("INSERT INTO {t} VALUES (3, 'far too long for the column')",           # ER_DATA_TOO_LONG
               "SET SESSION sql_mode = 'STRICT_ALL_TABLES'")),
    (1264, _my("INSERT INTO {t} VALUES (99999999999, 'x')",                           # ER_WARN_DATA_OUT_OF_RANGE
               "SET SESSION sql_mode = 'STRICT_ALL_TABLES'")),
    (1366, _my("INSERT INTO {t} VALUES ('abc', 'x')",                                 # ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
               "SET SESSION sql_mode = 'STRICT_ALL_TABLES'")),
    (1365, _my("INSERT INTO {t} VALUES (1/0, 'x')",                                   # ER_DIVISION_BY_ZERO
               "SET SESSION sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO'")),
    (1452, _my("INSERT INTO {t}_child VALUES (42)")),                                  # ER_NO_REFERENCED_ROW_2
    (4025, _my("INSERT INTO {t} VALUES (-1, 'neg')")),                                 # ER_CONSTRAINT_FAILED
    (1242, _my("SELECT (SELECT id FROM {t})")),                                        # ER_SUBQUERY_NO_1_ROW
    (1241, _my("SELECT (SELECT 1, 2)")),                                               # ER_OPERAND_COLUMNS
    (1136, _my("INSERT INTO {t} VALUES (5)")),                                         # ER_WRONG_VALUE_COUNT_ON_ROW
    (1690, _my("SELECT CAST(0 AS UNSIGNED) - 1")),                                     # ER_DATA_OUT_OF_RANGE
    (1205, _my_lock_wait),                                                             # ER_LOCK_WAIT_TIMEOUT
    (1213, _my_deadlock),                                                              # ER_LOCK_DEADLOCK
    (1969, _my("SELECT sum(seq % 7) FROM seq_1_to_1000000000",                            # ER_STATEMENT_TIMEOUT
               "SET SESSION max_statement_time = 0.1")),
    (1317, _my_query_killed),                                                          # ER_QUERY_INTERRUPTED
    (1792, _my_read_only_transaction),                                                 # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    (1644, _my_signal(1644, "45000", "Lost connection to MySQL server")),             # ER_SIGNAL_EXCEPTION
    (1290, _my_signal(1290, "HY000",                                                   # ER_OPTION_PREVENTS_STATEMENT
                      "The MariaDB server is running with the --read-only option so it cannot execute this statement")),
    (4031, _my_signal(4031)),                                                          # MariaDB: referenced trigger missing
    (1040, _my_signal(1040, "08004", "Too many connections")),                         # ER_CON_COUNT_ERROR
    (1021, _my_signal(1021, "HY000", "Disk full")),                                    # ER_DISK_FULL
    (1037, _my_signal(1037, "HY001", "Out of memory")),                                # ER_OUTOFMEMORY
]


@pytest.fixture
def mysql_env() -> Iterator[tuple[Any, Callable[[], Any], str]]:
    t = f"cls_{uuid.uuid4().hex[:10]}"
    admin = mysql.connector.connect(**MYSQL_KWARGS, autocommit=True)
    _my_exec(admin, f"CREATE TABLE {t} (id int PRIMARY KEY CHECK (id >= 0), v varchar(10) NOT NULL) ENGINE=InnoDB")
    _my_exec(admin, f"INSERT INTO {t} VALUES (1, 'one'), (2, 'two')")
    _my_exec(admin, f"CREATE TABLE {t}_child (parent int, FOREIGN KEY (parent) REFERENCES {t} (id)) ENGINE=InnoDB")
    opened: list[Any] = []

    def other() -> Any:
        conn = mysql.connector.connect(**MYSQL_KWARGS, autocommit=True)
        opened.append(conn)
        return conn

    conn = other()
    yield conn, other, t
    for c in opened:
        _quietly(c.close)
    _my_exec(admin, f"DROP TABLE {t}_child, {t}")
    admin.close()


@pytest.mark.parametrize(("errno", "provoke"), MY_SERVER_ERRORS,
                         ids=[f"{e}-{i}" for i, (e, _) in enumerate(MY_SERVER_ERRORS)])
@pytest.mark.timeout(60)
def test_mysql_errors_of_a_healthy_server_are_not_network_errors(
    mysql_env: tuple[Any, Callable[[], Any], str], errno: int, provoke: MyCase,
) -> None:
    conn, other, t = mysql_env
    cid = conn.connection_id
    with pytest.raises(mysql.connector.Error) as caught:
        provoke(conn, other, t)
    assert caught.value.errno == errno, caught.value  # the server really raised it
    assert not MY.is_network_error(caught.value)
    assert not MY.is_login_error(caught.value)
    assert MY.is_read_only_error(caught.value) is (errno == 1290)
    assert not MY.is_closed(conn)
    _quietly(conn.rollback)
    cur = conn.cursor()
    cur.execute("SELECT CONNECTION_ID()")
    assert cur.fetchall() == [(cid,)]  # the same session, still working
    cur.close()


@pytest.mark.timeout(60)
def test_mysql_server_side_kill_is_a_network_error(mysql_raw: Any) -> None:
    victim = mysql.connector.connect(**MYSQL_KWARGS)
    try:
        # The cursor first: mysql-connector's cursor() pings, and a failed ping is reported
        # as "MySQL Connection not available" rather than the server's answer.
        cur = victim.cursor()
        _my_exec(mysql_raw, f"KILL {victim.connection_id}")
        with pytest.raises(mysql.connector.Error) as caught:
            cur.execute("SELECT 1")
            cur.fetchall()
        assert caught.value.errno in (1927, 2006, 2013, 2055), caught.value
        assert MY.is_network_error(caught.value)
        # And every later call on the dead connection ("MySQL Connection not available").
        with pytest.raises(mysql.connector.Error) as again:
            _my_exec(victim, "SELECT 1")
        assert MY.is_network_error(again.value), again.value
    finally:
        _quietly(victim.close)


@pytest.mark.timeout(60)
def test_mysql_socket_shut_down_is_a_network_error() -> None:
    victim = mysql.connector.connect(**{**MYSQL_KWARGS, "use_pure": True})
    try:
        cur = victim.cursor()
        fd = MY.socket_fd(victim)
        assert fd is not None
        assert shutdown_fd(fd)
        with pytest.raises(mysql.connector.Error) as caught:
            cur.execute("SELECT 1")
            cur.fetchall()
        assert caught.value.errno in (2013, 2055), caught.value
        assert MY.is_network_error(caught.value)
    finally:
        _quietly(victim.close)


@pytest.mark.timeout(60)
def test_mysql_refused_connect_is_a_network_error() -> None:
    with pytest.raises(mysql.connector.Error) as caught:
        mysql.connector.connect(**{**MYSQL_KWARGS, "port": _free_port(), "connection_timeout": 5})
    assert caught.value.errno == 2003
    assert MY.is_network_error(caught.value)


def test_server_errors_are_told_apart_from_driver_messages() -> None:
    """The driver's own messages count only when the driver raised them, never from the server."""
    errors = mysql.connector.errors
    assert MY.is_network_error(errors.OperationalError("MySQL Connection not available."))
    assert not MY.is_network_error(errors.DatabaseError("Lost connection to MySQL server", errno=1644))
    assert MY.is_network_error(
        errors.DatabaseError("The client was disconnected by the server because of inactivity.", errno=4031)
    )
    assert not MY.is_network_error(psycopg.OperationalError("server closed the connection"))
    dialect: DriverDialect = PG
    assert dialect.is_network_error(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert not dialect.is_network_error(psycopg.errors.lookup("XX000")("server closed the connection"))
