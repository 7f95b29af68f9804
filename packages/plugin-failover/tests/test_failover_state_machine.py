"""The failover path on the local servers: errors, session transfer, cursors, no replay."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from local_servers import break_connection, table

import sturdydb

Open = Callable[..., sturdydb.Connection]


def test_a_network_error_becomes_failover_success_chained_to_the_driver_error(open_conn: Open) -> None:
    conn = open_conn(autocommit=True)
    old = conn.target_connection
    cur = conn.cursor()
    break_connection(conn)
    with pytest.raises(sturdydb.FailoverSuccessError) as caught:
        cur.execute("SELECT 1")
    err = caught.value
    assert err.sqlstate == "08S02"
    assert isinstance(err, conn.context.driver.operational_error)
    assert err.__cause__ is not None
    assert conn.context.driver.is_network_error(err.__cause__)
    assert conn.target_connection is not old
    # The cursor created before the failover works on the new connection.
    cur.execute("SELECT 2")
    assert cur.fetchall() == [(2,)]


def test_the_failed_statement_is_not_replayed(open_conn: Open) -> None:
    conn = open_conn(autocommit=True)
    name = table(conn)
    cur = conn.cursor()
    break_connection(conn)
    # An autocommit INSERT that went out without a reply: its outcome is unknown (issue 12;
    # this used to be FailoverSuccessError, which told the application to run it again).
    with pytest.raises(sturdydb.StatementOutcomeUnknownError) as caught:
        cur.execute(f"INSERT INTO {name} VALUES (1, 'x')")
    assert not isinstance(caught.value, sturdydb.FailoverSuccessError)
    assert caught.value.sqlstate == "08007"
    assert isinstance(caught.value, sturdydb.TransactionResolutionUnknownError)
    assert isinstance(caught.value, conn.context.driver.operational_error)
    cur.execute(f"SELECT count(*) FROM {name}")
    assert cur.fetchall() == [(0,)]
    cur.execute(f"DROP TABLE {name}")


def test_a_write_on_a_connection_known_dead_before_sending_is_safe_to_rerun(open_conn: Open) -> None:
    conn = open_conn(autocommit=True)
    name = table(conn)
    cur = conn.cursor()
    # The driver itself knows the connection is gone, so it raises before sending anything.
    conn.context.connection.close()
    with pytest.raises(sturdydb.FailoverSuccessError) as caught:
        cur.execute(f"INSERT INTO {name} VALUES (1, 'x')")
    assert caught.value.sqlstate == "08S02"
    assert not caught.value.retry_read
    cur.execute(f"SELECT count(*) FROM {name}")
    assert cur.fetchall() == [(0,)]
    cur.execute(f"INSERT INTO {name} VALUES (1, 'x')")  # the re-run applies it exactly once
    cur.execute(f"SELECT count(*) FROM {name}")
    assert cur.fetchall() == [(1,)]
    cur.execute(f"DROP TABLE {name}")


def test_inside_a_transaction_the_outcome_is_reported_unknown(open_conn: Open) -> None:
    conn = open_conn(autocommit=False)
    name = table(conn)
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {name} VALUES (1, 'in tx')")
    break_connection(conn)
    with pytest.raises(sturdydb.TransactionResolutionUnknownError) as caught:
        cur.execute(f"INSERT INTO {name} VALUES (2, 'in tx')")
    assert caught.value.sqlstate == "08007"
    assert isinstance(caught.value, conn.context.driver.operational_error)
    cur.execute(f"SELECT count(*) FROM {name}")
    assert cur.fetchall() == [(0,)]  # the open transaction died with the connection
    conn.rollback()
    cur.execute(f"DROP TABLE {name}")
    conn.commit()


def test_a_failed_commit_is_reported_unknown(open_conn: Open) -> None:
    conn = open_conn(autocommit=False)
    name = table(conn)
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {name} VALUES (1, 'x')")
    break_connection(conn)
    with pytest.raises(sturdydb.TransactionResolutionUnknownError):
        conn.commit()
    cur.execute(f"DROP TABLE {name}")
    conn.commit()


# Both spellings the plugin's cheap pre-test lets through: the third character of SET/USE,
# and a blank first character.
@pytest.mark.parametrize("indent", ["", "\n  "])
def test_session_state_is_carried_over(open_conn: Open, engine: str, indent: str) -> None:
    conn = open_conn()
    conn.autocommit = False
    conn.isolation_level = "SERIALIZABLE" if engine == "mysql" else 4  # psycopg IsolationLevel.SERIALIZABLE
    cur = conn.cursor()
    if engine == "pg":
        cur.execute(indent + ("set" if indent else "SET") + " search_path TO pg_catalog, public")
    else:
        cur.execute(indent + ("use" if indent else "USE") + " mysql")
    conn.commit()
    break_connection(conn)
    with pytest.raises(sturdydb.FailoverSuccessError):
        cur.execute("SELECT 1")
    raw = conn.target_connection
    assert raw.autocommit is False
    if engine == "pg":
        cur.execute("SELECT current_setting('search_path'), current_setting('transaction_isolation')")
        assert cur.fetchall() == [("pg_catalog, public", "serializable")]
    else:
        cur.execute("SELECT DATABASE(), @@session.tx_isolation")
        assert cur.fetchall() == [("mysql", "SERIALIZABLE")]
    conn.rollback()


def test_no_reachable_host_gives_failover_failed_after_the_timeout(open_conn: Open, names: tuple[str, str], engine: str) -> None:
    conn = open_conn(autocommit=True, failover_timeout_sec=1, connect_timeout=1)
    for name in names:  # both names now lead to a closed port
        sturdydb.map_host(name, "127.0.0.1", 9)
    break_connection(conn)
    cur = conn.context.connection  # noqa: F841 - keep the old one alive for the test
    with pytest.raises(sturdydb.FailoverFailedError) as caught:
        conn.cursor().execute("SELECT 1") if engine == "pg" else conn.commit()
    assert caught.value.sqlstate == "08001"
    assert isinstance(caught.value, conn.context.driver.operational_error)


def test_non_network_errors_pass_through_unchanged(open_conn: Open) -> None:
    conn = open_conn(autocommit=True)
    old = conn.target_connection
    with pytest.raises(Exception) as caught:
        conn.cursor().execute("SELECT * FROM no_such_table_here")
    assert not isinstance(caught.value, sturdydb.FailoverError)
    assert type(caught.value).__module__.split(".")[0] in ("psycopg", "mysql")
    assert conn.target_connection is old


def test_a_single_plain_server_is_left_alone(engine: str) -> None:
    from local_servers import ENGINES

    target, port, base = ENGINES[engine]
    conn = sturdydb.connect(target, host="127.0.0.1", port=port, plugins="failover", **base)
    try:
        break_connection(conn)
        with pytest.raises(Exception) as caught:
            conn.cursor().execute("SELECT 1")
        assert not isinstance(caught.value, sturdydb.FailoverError)
        assert conn.context.driver.is_network_error(caught.value)
    finally:
        conn.close()


def test_a_streaming_cursor_from_before_a_failover_raises_the_failover_error(open_conn: Open, engine: str) -> None:
    conn = open_conn(autocommit=True)
    # A result that lives on the server: psycopg's named cursor (WITH HOLD, so it survives
    # autocommit), mysql-connector's default unbuffered cursor.
    old = conn.cursor("held", withhold=True) if engine == "pg" else conn.cursor()
    old.execute("SELECT 1 UNION ALL SELECT 2")
    assert tuple(old.fetchone()) == (1,)
    if engine == "mysql":
        old.fetchall()  # mysql-connector allows no other statement while a result is unread
    break_connection(conn)
    with pytest.raises(sturdydb.FailoverSuccessError):
        conn.cursor().execute("SELECT 1") if engine == "pg" else conn.commit()
    new_conn = conn.target_connection
    for fetch in (old.fetchall, old.fetchone, lambda: old.fetchmany(1), lambda: next(iter(old)), old.nextset):
        with pytest.raises(sturdydb.FailoverSuccessError, match="execute the query again"):
            fetch()
    # The healthy new connection was not touched by the stale cursor.
    assert conn.target_connection is new_conn
    assert conn.context.plugin_state["failover"].failovers == 1
    cur = conn.cursor()
    cur.execute("SELECT 3")
    assert cur.fetchall() == [(3,)]
