"""The error classification table of ``test_error_classification.py``, through psycopg2 and PyMySQL.

The same provocations (each makes the real server raise the error) run on psycopg2 and PyMySQL
connections, seen through a thin adapter that gives them the spelling the cases use
(``conn.execute``, ``autocommit = ...``, ``connection_id``, ``cursor.with_rows``). Each driver's
dialect must agree with the rules: a healthy server's answer is never a network error, and the
session survives it; a lost connection is one.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pymysql
import pytest
from conftest import MYSQL_KWARGS, PG_CONNINFO
from test_error_classification import MY_SERVER_ERRORS, PG_SERVER_ERRORS, MyCase, PgCase

from sturdydb._drivers import driver_dialect_for
from sturdydb._drivers.base import shutdown_fd

PG2 = driver_dialect_for(psycopg2.connect)
PYMY = driver_dialect_for(pymysql.connect)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Pg2:
    """A psycopg2 connection spelled like the psycopg 3 one the cases use."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Any = None) -> Any:
        cur = self.raw.cursor()
        cur.execute(sql, params)
        return cur

    @property
    def autocommit(self) -> bool:
        return bool(self.raw.autocommit)

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self.raw.autocommit = value

    @property
    def info(self) -> Any:
        return self.raw.info

    def rollback(self) -> None:
        self.raw.rollback()


class _MyCursor:
    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Any = None) -> None:
        self.raw.execute(sql, params)

    @property
    def with_rows(self) -> bool:
        return self.raw.description is not None

    def fetchall(self) -> Any:
        return self.raw.fetchall()

    def close(self) -> None:
        self.raw.close()


class _PyMy:
    """A PyMySQL connection spelled like the mysql-connector one the cases use."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def cursor(self) -> _MyCursor:
        return _MyCursor(self.raw.cursor())

    @property
    def autocommit(self) -> bool:
        return bool(self.raw.get_autocommit())

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self.raw.autocommit(value)

    @property
    def connection_id(self) -> int:
        return int(self.raw.thread_id())

    def rollback(self) -> None:
        self.raw.rollback()

    def close(self) -> None:
        self.raw.close()


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:
        pass


@pytest.fixture
def pg2_env() -> Iterator[tuple[_Pg2, Callable[[], _Pg2], str]]:
    t = f"cls_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_CONNINFO)
    admin.autocommit = True
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE {t} (id int PRIMARY KEY CHECK (id >= 0), v varchar(10) NOT NULL)")
    cur.execute(f"INSERT INTO {t} VALUES (1, 'one'), (2, 'two')")
    cur.execute(f"CREATE TABLE {t}_child (parent int REFERENCES {t} (id))")
    opened: list[Any] = []

    def other() -> _Pg2:
        raw = psycopg2.connect(PG_CONNINFO)
        raw.autocommit = True
        opened.append(raw)
        return _Pg2(raw)

    conn = other()
    yield conn, other, t
    for c in opened:
        _quietly(c.close)
    cur.execute(f"DROP TABLE {t}_child, {t}")
    admin.close()


@pytest.mark.parametrize(("sqlstate", "provoke"), PG_SERVER_ERRORS,
                         ids=[f"{s}-{i}" for i, (s, _) in enumerate(PG_SERVER_ERRORS)])
@pytest.mark.timeout(60)
def test_psycopg2_errors_of_a_healthy_server_are_not_network_errors(
    pg2_env: tuple[_Pg2, Callable[[], _Pg2], str], sqlstate: str, provoke: PgCase,
) -> None:
    conn, other, t = pg2_env
    pid = conn.raw.get_backend_pid()
    with pytest.raises(psycopg2.Error) as caught:
        provoke(conn, other, t)  # type: ignore[arg-type]
    assert caught.value.pgcode == sqlstate, caught.value  # the server really raised it
    assert not PG2.is_network_error(caught.value)
    assert not PG2.is_login_error(caught.value)
    assert PG2.is_read_only_error(caught.value) is (sqlstate == "25006")
    assert PG2.is_cancel_error(caught.value) is (sqlstate == "57014")
    if not conn.autocommit:
        conn.rollback()
    assert not PG2.is_closed(conn.raw)
    assert conn.execute("SELECT pg_backend_pid()").fetchone() == (pid,)


@pytest.mark.timeout(60)
def test_psycopg2_terminated_backend_and_shut_socket_are_network_errors() -> None:
    killer = psycopg2.connect(PG_CONNINFO)
    killer.autocommit = True
    victim = psycopg2.connect(PG_CONNINFO)
    try:
        killer.cursor().execute("SELECT pg_terminate_backend(%s, 5000)", (victim.get_backend_pid(),))
        with pytest.raises(psycopg2.OperationalError) as caught:
            victim.cursor().execute("SELECT 1")
        assert caught.value.pgcode in ("57P01", None), caught.value
        assert PG2.is_network_error(caught.value)
        assert PG2.is_closed(victim)
        shut = psycopg2.connect(PG_CONNINFO)
        assert shutdown_fd(shut.fileno())
        with pytest.raises(psycopg2.OperationalError) as lost:
            shut.cursor().execute("SELECT 1")
        assert lost.value.pgcode is None and PG2.is_network_error(lost.value)
        shut.close()
        with pytest.raises(psycopg2.OperationalError) as refused:
            psycopg2.connect(f"host=127.0.0.1 port={_free_port()} dbname=test user=postgres connect_timeout=5")
        assert PG2.is_network_error(refused.value)
        with pytest.raises(psycopg2.OperationalError) as login:
            psycopg2.connect("host=127.0.0.1 dbname=test user=no_such_user_x password=x")
        assert PG2.is_login_error(login.value) and not PG2.is_network_error(login.value)
    finally:
        killer.close()
        victim.close()


@pytest.fixture
def pymysql_env() -> Iterator[tuple[_PyMy, Callable[[], _PyMy], str]]:
    t = f"cls_{uuid.uuid4().hex[:10]}"
    admin = pymysql.connect(**MYSQL_KWARGS, autocommit=True)
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE {t} (id int PRIMARY KEY CHECK (id >= 0), v varchar(10) NOT NULL) ENGINE=InnoDB")
    cur.execute(f"INSERT INTO {t} VALUES (1, 'one'), (2, 'two')")
    cur.execute(f"CREATE TABLE {t}_child (parent int, FOREIGN KEY (parent) REFERENCES {t} (id)) ENGINE=InnoDB")
    opened: list[_PyMy] = []

    def other() -> _PyMy:
        conn = _PyMy(pymysql.connect(**MYSQL_KWARGS, autocommit=True))
        opened.append(conn)
        return conn

    conn = other()
    yield conn, other, t
    for c in opened:
        _quietly(c.close)
    cur.execute(f"DROP TABLE {t}_child, {t}")
    admin.close()


@pytest.mark.parametrize(("errno", "provoke"), MY_SERVER_ERRORS,
                         ids=[f"{e}-{i}" for i, (e, _) in enumerate(MY_SERVER_ERRORS)])
@pytest.mark.timeout(60)
def test_pymysql_errors_of_a_healthy_server_are_not_network_errors(
    pymysql_env: tuple[_PyMy, Callable[[], _PyMy], str], errno: int, provoke: MyCase,
) -> None:
    conn, other, t = pymysql_env
    cid = conn.connection_id
    with pytest.raises(pymysql.Error) as caught:
        provoke(conn, other, t)
    assert PYMY.errno(caught.value) == errno, caught.value  # the server really raised it
    assert not PYMY.is_network_error(caught.value)
    assert not PYMY.is_login_error(caught.value)
    assert PYMY.is_read_only_error(caught.value) is (errno == 1290)
    assert PYMY.is_cancel_error(caught.value) is (errno == 1317)
    assert not PYMY.is_closed(conn.raw)
    _quietly(conn.rollback)
    cur = conn.cursor()
    cur.execute("SELECT CONNECTION_ID()")
    assert cur.fetchall() == ((cid,),)  # the same session, still working
    cur.close()


@pytest.mark.timeout(60)
def test_pymysql_killed_session_shut_socket_and_refused_connect_are_network_errors() -> None:
    killer = pymysql.connect(**MYSQL_KWARGS, autocommit=True)
    victim = pymysql.connect(**MYSQL_KWARGS)
    try:
        killer.cursor().execute(f"KILL {victim.thread_id()}")
        with pytest.raises(pymysql.Error) as caught:
            victim.cursor().execute("SELECT 1")
        assert PYMY.errno(caught.value) in (1927, 2006, 2013), caught.value
        assert PYMY.is_network_error(caught.value)
        with pytest.raises(pymysql.Error) as again:
            victim.cursor().execute("SELECT 1")
        assert PYMY.is_network_error(again.value), again.value
        shut = pymysql.connect(**MYSQL_KWARGS)
        fd = PYMY.socket_fd(shut)
        assert fd is not None and shutdown_fd(fd)
        with pytest.raises(pymysql.Error) as lost:
            shut.cursor().execute("SELECT 1")
        assert PYMY.errno(lost.value) in (2006, 2013), lost.value
        assert PYMY.is_network_error(lost.value)
        with pytest.raises(pymysql.Error) as refused:
            pymysql.connect(**{**MYSQL_KWARGS, "port": _free_port(), "connect_timeout": 5})
        assert PYMY.errno(refused.value) == 2003 and PYMY.is_network_error(refused.value)
        with pytest.raises(pymysql.Error) as login:
            pymysql.connect(**{**MYSQL_KWARGS, "user": "no_such_user_x", "password": "x"})
        assert PYMY.is_login_error(login.value) and not PYMY.is_network_error(login.value)
    finally:
        killer.close()
        _quietly(victim.close)


def test_server_messages_never_pass_for_driver_messages() -> None:
    err = pymysql.err
    assert PYMY.is_network_error(err.InterfaceError(0, ""))
    assert not PYMY.is_network_error(err.OperationalError(1644, "Lost connection to MySQL server"))
    assert PYMY.is_network_error(err.OperationalError(2013, "Lost connection to MySQL server during query"))
    assert not PYMY.is_network_error(psycopg2.OperationalError("server closed the connection"))
    assert PG2.is_network_error(psycopg2.OperationalError("server closed the connection unexpectedly"))
    assert PG2.is_network_error(psycopg2.InterfaceError("connection already closed"))
    assert not PG2.is_network_error(pymysql.err.OperationalError(2013, "Lost connection"))
