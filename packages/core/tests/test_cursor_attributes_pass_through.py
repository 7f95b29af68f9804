"""A sturdydb cursor reads the driver cursor's own attributes from the *current* driver cursor.

For a driver cursor class whose instances can only have the attributes its class names
(psycopg 3's ``Cursor``: slots, no ``__dict__``), the sturdydb cursor's class forwards exactly
those names, without ``__getattr__`` (which would make every attribute read on the cursor
slow, see ``_cursor_class``). For any other driver cursor class (mysql-connector's have a
``__dict__``), any name is forwarded. Either way the answer is the driver cursor's, read when
asked: after the connection is replaced, the new driver cursor's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import mysql.connector
import psycopg
import pytest
from conftest import MYSQL_KWARGS, PG_CONNINFO

import sturdydb
from sturdydb import Call, Plugin, hookimpl
from sturdydb._discovery import register_plugin, unregister_plugin
from sturdydb.plugin_api import Proceed


class _EveryCall(Plugin):
    """Wraps every call, so the cursor runs its chains (this package's tests have no failover)."""

    code: ClassVar[str] = "t_every_call"

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return True

    @hookimpl
    def sturdydb_execute_around(self, call: Call, proceed: Proceed) -> Any:
        return proceed(call)


@pytest.fixture
def every_call() -> Iterator[None]:
    register_plugin(_EveryCall)
    try:
        yield
    finally:
        unregister_plugin(_EveryCall.code)


@pytest.mark.parametrize("plugins", ["", _EveryCall.code])
@pytest.mark.usefixtures("every_call")
def test_psycopg_cursor_attributes_come_from_the_current_driver_cursor(plugins: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, PG_CONNINFO, plugins=plugins) as conn:
        cur = conn.cursor()
        assert "__getattr__" not in vars(type(cur))  # the fast class: names forwarded one by one
        assert isinstance(cur, sturdydb.Cursor)
        cur.execute("SELECT 1 UNION ALL SELECT 2")
        first = cur.target_cursor
        assert cur.statusmessage == "SELECT 2"
        assert cur.pgresult is first.pgresult
        assert cur.fetchone() == (1,)
        assert cur.rownumber == 1
        assert [c.name for c in cur.description] == ["?column?"]
        assert cur.connection is conn  # sturdydb's own attributes win over the driver's
        with pytest.raises(AttributeError, match="no_such_attribute"):
            _ = cur.no_such_attribute
        ctx = conn.context
        ctx.set_connection(ctx.open(purpose="reconnect"), ctx.host)  # what a failover does
        cur.execute("SELECT 3")
        assert cur.target_cursor is not first
        assert cur.pgresult is cur.target_cursor.pgresult
        assert cur.statusmessage == "SELECT 1"
        assert cur.fetchall() == [(3,)]
        assert cur.rownumber == 1
        cur.close()


def test_a_driver_cursor_with_instance_attributes_forwards_any_name() -> None:
    with sturdydb.connect(mysql.connector.connect, plugins="", use_pure=True, **MYSQL_KWARGS) as conn:
        cur = conn.cursor(buffered=True)
        assert type(cur.target_cursor).__dictoffset__ != 0
        cur.execute("SELECT 1")
        cur.target_cursor.set_by_the_application = 42  # lands in the driver cursor's __dict__
        assert cur.set_by_the_application == 42
        assert cur.statement == "SELECT 1"
        assert cur.fetchall() == [(1,)]
        with pytest.raises(AttributeError, match="no_such_attribute"):
            _ = cur.no_such_attribute
        cur.close()


@pytest.mark.parametrize("plugins", ["", _EveryCall.code])
@pytest.mark.parametrize("buffered", [False, True])
@pytest.mark.usefixtures("every_call")
def test_a_mysql_connector_cursor_executes_fetches_and_closes_on_the_driver_cursor_after_a_rebind(
    plugins: str, buffered: bool,
) -> None:
    # execute, the fetches and close read the driver cursor from one field kept beside
    # ``target_cursor``'s (``_cursor_class``: on mysql-connector's cursors every field read is
    # slow); after the connection is replaced they must all reach the new driver cursor.
    with sturdydb.connect(mysql.connector.connect, plugins=plugins, use_pure=True, **MYSQL_KWARGS) as conn:
        cur = conn.cursor(buffered=buffered)
        first = cur.target_cursor
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
        ctx = conn.context
        ctx.set_connection(ctx.open(purpose="reconnect"), ctx.host)  # what a failover does
        cur.execute("SELECT 2 UNION ALL SELECT 3")
        second = cur.target_cursor
        assert second is not first
        assert second.statement == "SELECT 2 UNION ALL SELECT 3"
        assert first.statement == "SELECT 1"  # the old driver cursor was left alone
        assert cur.fetchone() == (2,)
        assert cur.fetchall() == [(3,)]
        cur.execute("SELECT 4")
        assert cur.target_cursor is second
        assert list(cur) == [(4,)]  # __next__
        cur.close()
        with pytest.raises(mysql.connector.Error):
            second.execute("SELECT 5")  # close reached the new driver cursor
        assert cur.target_cursor is second
