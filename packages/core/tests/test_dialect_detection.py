"""Database dialect detection against the machine's real servers, and error classification."""

from __future__ import annotations

from typing import Any

import mysql.connector
import psycopg
import pytest

import sturdydb
from sturdydb import dialects
from sturdydb.drivers import driver_dialect_for


def test_plain_postgresql_is_detected_as_pg(pg_wrapped: sturdydb.Connection) -> None:
    dialects.clear_dialect_cache()
    ctx = pg_wrapped.context
    assert ctx.dialect.code == "pg"
    assert ctx.dialect.is_reader(ctx.driver, ctx.connection) is False
    assert ctx.dialect.instance_id(ctx.driver, ctx.connection) == "127.0.0.1:5432"
    assert not ctx.in_transaction()  # the probes left no transaction open


def test_mariadb_is_detected_as_mysql(mysql_wrapped: sturdydb.Connection) -> None:
    dialects.clear_dialect_cache()
    ctx = mysql_wrapped.context
    assert ctx.dialect.code == "mysql"
    assert ctx.dialect.is_reader(ctx.driver, ctx.connection) is False


def test_detection_inside_a_transaction_keeps_it_open(pg_conninfo: str) -> None:
    dialects.clear_dialect_cache()
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="") as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert conn.context.in_transaction()
        assert conn.context.dialect.code == "pg"
        assert conn.context.in_transaction()


def test_wrapper_dialect_skips_detection(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="", wrapper_dialect="aurora-pg") as conn:
        assert conn.context.dialect.code == "aurora-pg"


@pytest.mark.parametrize(("host", "driver", "code"), [
    ("c.cluster-x.us-east-1.rds.amazonaws.com", "psycopg", "aurora-pg"),
    ("i.x.us-east-1.rds.amazonaws.com", "psycopg", "rds-pg"),
    ("db.local", "psycopg", "pg"),
    ("c.cluster-ro-x.us-east-1.rds.amazonaws.com", "mysql", "aurora-mysql"),
    ("db.local", "mysql", "mysql"),
])
def test_initial_guess_uses_driver_and_host_kind(host: str, driver: str, code: str) -> None:
    target: Any = psycopg.Connection.connect if driver == "psycopg" else mysql.connector.connect
    assert dialects.initial_guess(driver_dialect_for(target), host).code == code


def test_driver_dialects_are_detected_from_the_connect_function() -> None:
    assert driver_dialect_for(psycopg.Connection.connect).name == "psycopg"
    assert driver_dialect_for(psycopg.connect).name == "psycopg"
    assert driver_dialect_for(mysql.connector.connect).name == "mysql-connector-python"
    assert driver_dialect_for(mysql.connector.Connect).name == "mysql-connector-python"
    with pytest.raises(sturdydb.ConfigurationError, match="wrapper_driver_dialect"):
        driver_dialect_for(print)
    with pytest.raises(sturdydb.ConfigurationError, match="connect function"):
        driver_dialect_for("psycopg")  # type: ignore[arg-type]


def test_pg_errors_are_classified(pg_wrapped: sturdydb.Connection) -> None:
    driver = pg_wrapped.context.driver
    with pytest.raises(psycopg.Error) as syntax:
        pg_wrapped.cursor().execute("SELEC")
    pg_wrapped.rollback()
    assert not driver.is_network_error(syntax.value)
    with pytest.raises(psycopg.OperationalError) as login:
        psycopg.connect("host=127.0.0.1 dbname=test user=no_such_user_x password=x")
    assert driver.is_login_error(login.value) and not driver.is_network_error(login.value)
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect("host=127.0.0.1 port=1 dbname=test user=postgres connect_timeout=2")
    assert driver.is_network_error(refused.value)
    pg_wrapped.read_only = True
    with pytest.raises(psycopg.Error) as read_only:
        pg_wrapped.cursor().execute("CREATE TEMP TABLE x (i int)")
    assert driver.is_read_only_error(read_only.value)


def test_mysql_errors_are_classified(mysql_wrapped: sturdydb.Connection) -> None:
    driver = mysql_wrapped.context.driver
    with pytest.raises(mysql.connector.Error) as syntax:
        mysql_wrapped.cursor().execute("SELEC")
    assert not driver.is_network_error(syntax.value)
    with pytest.raises(mysql.connector.Error) as login:
        mysql.connector.connect(host="127.0.0.1", user="no_such_user_x", password="x")
    assert driver.is_login_error(login.value) and not driver.is_network_error(login.value)
    with pytest.raises(mysql.connector.Error) as refused:
        mysql.connector.connect(host="127.0.0.1", port=1, user="root", connection_timeout=2)
    assert driver.is_network_error(refused.value)
