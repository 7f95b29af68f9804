"""A driver sturdydb does not know runs as a pass-through when the application asks for no
plugins (``plugins=""``), and only then.

SQLite (the standard library's ``sqlite3``) is the unknown driver: a real PEP 249 driver that
needs no server. Through sturdydb it behaves as it does alone: the same rows, the driver's own
exceptions, its own ``with`` rule (commit or roll back, connection left open) and attributes.
A property that would enable a plugin is refused, since nothing could act on this driver.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import pytest

import sturdydb


def test_sqlite_runs_through_sturdydb_as_a_pass_through(tmp_path: Path) -> None:
    path = str(tmp_path / "app.db")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unknown-property warning for the driver's keywords
        conn = sturdydb.connect(sqlite3.connect, database=path, timeout=2.0, plugins="")
    assert conn.context.driver.name == "pass-through"
    assert list(conn.context.pipeline.codes) == []
    assert isinstance(conn.target_connection, sqlite3.Connection)
    cur = conn.cursor()
    cur.execute("CREATE TABLE t (a INTEGER)")
    cur.executemany("INSERT INTO t VALUES (?)", [(1,), (2,), (3,)])
    assert conn.in_transaction  # the driver's own attribute
    conn.commit()
    cur.execute("SELECT a FROM t WHERE a > ? ORDER BY a", (1,))
    assert cur.fetchall() == [(2,), (3,)]
    with pytest.raises(sqlite3.OperationalError):  # the driver's exception, unchanged
        cur.execute("SELECT missing FROM t")
    # sqlite3's with block: rolls back on error, keeps the connection open.
    with pytest.raises(RuntimeError), conn:
        cur.execute("INSERT INTO t VALUES (4)")
        raise RuntimeError("undo")
    cur.execute("SELECT count(*) FROM t")
    assert cur.fetchall() == [(3,)]
    assert not conn.closed
    conn.close()
    other = sqlite3.connect(path)
    assert other.execute("SELECT count(*) FROM t").fetchall() == [(3,)]
    other.close()


def test_a_string_property_list_of_none_also_asks_for_the_pass_through() -> None:
    conn = sturdydb.connect(sqlite3.connect, "plugins=", database=":memory:")
    assert conn.context.driver.name == "pass-through"
    conn.close()


def test_a_property_that_enables_a_plugin_is_refused_for_an_unknown_driver() -> None:
    with pytest.raises(sturdydb.ConfigurationError, match=r"pass-through with no plugins.*socket_timeout"):
        sturdydb.connect(sqlite3.connect, database=":memory:", plugins="", socket_timeout=3)


def test_an_unknown_driver_with_plugins_is_refused_by_name() -> None:
    with pytest.raises(sturdydb.ConfigurationError) as info:
        sturdydb.connect(sqlite3.connect, database=":memory:", plugins="failover")
    message = str(info.value)
    assert "'_sqlite3'" in message and "PyMySQL" in message and 'plugins=""' in message
