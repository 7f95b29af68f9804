"""Database dialect detection against the machine's real servers, and error classification."""

from __future__ import annotations

from typing import Any

import mysql.connector
import psycopg
import pytest

import sturdydb
from sturdydb import _dialects as dialects
from sturdydb._drivers import driver_dialect_for


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


def test_a_broken_connection_during_detection_is_not_cached_as_plain(pg_conninfo: str) -> None:
    dialects.clear_dialect_cache()
    conn = sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="")
    ctx = conn.context
    ctx.driver.abort_connection(ctx.connection)
    with pytest.raises(psycopg.OperationalError) as info:
        dialects.detect_dialect(ctx.driver, ctx.connection, "broken-host:1")
    assert ctx.driver.is_network_error(info.value)
    assert "broken-host:1" not in dialects._cache
    conn.close()


def test_mysql_keyword_cache_holds_no_password() -> None:
    from sturdydb._config import build_properties
    from sturdydb._discovery import catalog
    from sturdydb._hosts import HostInfo

    driver = driver_dialect_for(mysql.connector.connect)
    props = build_properties(catalog(), driver, "", {"plugins": "", "user": "root"})
    seen: list[dict[str, Any]] = []

    def fake_connect(**kw: Any) -> object:
        seen.append(kw)
        return object()

    for token in ("token-one", "token-two"):
        driver.connect(fake_connect, HostInfo("127.0.0.1", 3306), {"user": "root", "password": token}, props)
    assert [kw["password"] for kw in seen] == ["token-one", "token-two"]
    assert "token-one" not in repr(props._cache) and "token-two" not in repr(props._cache)
    assert len([k for k in props._cache if k and k[0] == "mysql_native"]) == 1
