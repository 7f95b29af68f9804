"""With no plugins, sturdydb behaves exactly like the raw driver: same rows, same errors."""

from __future__ import annotations

from typing import Any

import mysql.connector
import psycopg
import pytest

import sturdydb

QUERIES = [
    "SELECT 1, 'a', NULL",
    "SELECT 2.5",
]


def _rows(conn: Any, sql: str) -> tuple[Any, Any, int]:
    cur = conn.cursor()
    cur.execute(sql)
    rows = cur.fetchall()
    description = [d[0] for d in cur.description]
    count = cur.rowcount
    cur.close()
    return rows, description, count


@pytest.mark.parametrize("sql", QUERIES)
def test_pg_same_rows_description_and_rowcount(pg_raw: Any, pg_wrapped: sturdydb.Connection, sql: str) -> None:
    assert _rows(pg_wrapped, sql) == _rows(pg_raw, sql)


@pytest.mark.parametrize("sql", QUERIES)
def test_mysql_same_rows_description_and_rowcount(mysql_raw: Any, mysql_wrapped: sturdydb.Connection, sql: str) -> None:
    assert _rows(mysql_wrapped, sql) == _rows(mysql_raw, sql)


@pytest.mark.parametrize(("sql", "error"), [
    ("SELEC 1", psycopg.errors.SyntaxError),
    ("SELECT 1/0", psycopg.errors.DivisionByZero),
    ("SELECT * FROM missing_table_x", psycopg.errors.UndefinedTable),
])
def test_pg_same_exception_classes(pg_raw: Any, pg_wrapped: sturdydb.Connection, sql: str, error: type) -> None:
    for conn in (pg_raw, pg_wrapped):
        with pytest.raises(error):
            conn.cursor().execute(sql)
        conn.rollback()


@pytest.mark.parametrize(("sql", "errno"), [("SELEC 1", 1064), ("SELECT * FROM missing_table_x", 1146)])
def test_mysql_same_exception_classes(mysql_raw: Any, mysql_wrapped: sturdydb.Connection, sql: str, errno: int) -> None:
    seen = []
    for conn in (mysql_raw, mysql_wrapped):
        with pytest.raises(mysql.connector.Error) as info:
            conn.cursor().execute(sql)
        seen.append((type(info.value), info.value.errno))
    assert seen[0] == seen[1] == (mysql.connector.errors.ProgrammingError, errno)


def test_pg_transactions_commit_and_roll_back(pg_wrapped: sturdydb.Connection, pg_raw: Any, table_name: str) -> None:
    cur = pg_wrapped.cursor()
    cur.execute(f"CREATE TABLE {table_name} (id int)")
    pg_wrapped.commit()
    try:
        cur.executemany(f"INSERT INTO {table_name} VALUES (%s)", [(1,), (2,), (3,)])
        pg_wrapped.rollback()
        cur.execute(f"INSERT INTO {table_name} VALUES (%s)", (4,))
        assert pg_wrapped.context.in_transaction()
        pg_wrapped.commit()
        assert not pg_wrapped.context.in_transaction()
        check = pg_raw.cursor()
        check.execute(f"SELECT id FROM {table_name} ORDER BY id")
        assert check.fetchall() == [(4,)]
    finally:
        pg_raw.rollback()
        cur.execute(f"DROP TABLE {table_name}")
        pg_wrapped.commit()


def test_mysql_transactions_and_executemany(mysql_wrapped: sturdydb.Connection, table_name: str) -> None:
    cur = mysql_wrapped.cursor()
    cur.execute(f"CREATE TABLE {table_name} (id int) ENGINE=InnoDB")
    try:
        cur.executemany(f"INSERT INTO {table_name} VALUES (%s)", [(1,), (2,)])
        mysql_wrapped.rollback()
        cur.execute(f"INSERT INTO {table_name} VALUES (%s)", (3,))
        mysql_wrapped.commit()
        cur.execute(f"SELECT id FROM {table_name}")
        assert cur.fetchall() == [(3,)]
    finally:
        cur.execute(f"DROP TABLE {table_name}")


def test_iteration_fetchmany_and_arraysize(pg_wrapped: sturdydb.Connection, mysql_wrapped: sturdydb.Connection) -> None:
    cur = pg_wrapped.cursor()
    cur.execute("SELECT generate_series(1, 5)")
    cur.arraysize = 2
    assert cur.fetchmany() == [(1,), (2,)]
    assert list(cur) == [(3,), (4,), (5,)]
    mcur = mysql_wrapped.cursor()
    mcur.execute("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3")
    assert mcur.fetchmany(2) == [(1,), (2,)]
    assert list(mcur) == [(3,)]


def test_context_managers_follow_the_drivers_semantics(pg_conninfo: str, pg_raw: Any, table_name: str) -> None:
    pg_raw.autocommit = True
    pg_raw.execute(f"CREATE TABLE {table_name} (id int)")
    try:
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="") as conn, \
                conn.cursor() as cur:
            cur.execute(f"INSERT INTO {table_name} VALUES (1)")
        assert conn.closed
        with pytest.raises(ZeroDivisionError), \
                sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="") as conn2:
            conn2.cursor().execute(f"INSERT INTO {table_name} VALUES (2)")
            raise ZeroDivisionError
        rows = pg_raw.execute(f"SELECT id FROM {table_name}").fetchall()
        assert rows == [(1,)]  # committed on success, rolled back on error, like psycopg
    finally:
        pg_raw.execute(f"DROP TABLE {table_name}")


def test_session_settings_are_recorded_and_applied(pg_wrapped: sturdydb.Connection, mysql_wrapped: sturdydb.Connection) -> None:
    pg_wrapped.autocommit = True
    pg_wrapped.read_only = True
    pg_wrapped.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
    assert pg_wrapped.target_connection.autocommit is True
    assert pg_wrapped.read_only is True
    assert pg_wrapped.context.session.changed() == {
        "autocommit": True, "read_only": True, "isolation_level": psycopg.IsolationLevel.SERIALIZABLE,
    }
    mysql_wrapped.autocommit = True
    mysql_wrapped.read_only = True
    mysql_wrapped.isolation_level = "READ COMMITTED"
    state = mysql_wrapped.context.driver.read_session_state(mysql_wrapped.target_connection)
    assert (state.autocommit, state.read_only, state.isolation_level) == (True, True, "READ-COMMITTED")


def test_driver_specific_attributes_pass_through(pg_wrapped: sturdydb.Connection, mysql_wrapped: sturdydb.Connection) -> None:
    assert pg_wrapped.info.server_version >= 100000
    assert pg_wrapped.pgconn is pg_wrapped.target_connection.pgconn
    assert mysql_wrapped.server_info
    cur = pg_wrapped.execute("SELECT %s::int", (7,))
    assert cur.fetchone() == (7,)


def test_mysql_database_switch_is_recorded(mysql_wrapped: sturdydb.Connection) -> None:
    mysql_wrapped.database = "mysql"
    assert mysql_wrapped.database == "mysql"
    assert mysql_wrapped.context.session.database == "mysql"


def test_closed_connection_raises_the_drivers_interface_error(pg_conninfo: str) -> None:
    conn = sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="")
    conn.close()
    conn.close()  # idempotent
    with pytest.raises(psycopg.InterfaceError):
        conn.cursor()


def test_several_hosts_skip_the_unreachable_one(pg_conninfo: str) -> None:
    # 127.0.0.1:1 refuses at once; libpq-style host lists go on to the next host.
    with sturdydb.connect(psycopg.Connection.connect, "host=127.0.0.1,127.0.0.1 port=1,5432 dbname=test user=postgres",
                          plugins="") as conn:
        assert conn.host.port == 5432


def test_callproc_on_psycopg_explains_the_alternative(pg_wrapped: sturdydb.Connection) -> None:
    with pytest.raises(psycopg.NotSupportedError, match="CALL"):
        pg_wrapped.cursor().callproc("lower", ("X",))


def test_reference_alias_and_module_shims(pg_conninfo: str) -> None:
    import sturdydb.mysql_connector as mydb
    import sturdydb.psycopg as pgdb

    with sturdydb.AwsWrapperConnection.connect(psycopg.Connection.connect, pg_conninfo, plugins="") as conn:
        assert isinstance(conn, sturdydb.Connection)
    with pgdb.connect(pg_conninfo, plugins="") as conn:
        assert pgdb.Error is psycopg.Error
        assert conn.cursor().execute("SELECT 1").fetchone() == (1,)
    conn2 = mydb.connect(host="127.0.0.1", user="root", password="", database="test", plugins="")
    assert mydb.Error is mysql.connector.Error
    conn2.close()
