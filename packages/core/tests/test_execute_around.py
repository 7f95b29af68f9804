"""``sturdydb_execute_around``, the fast form of the execute pipeline, on the local PostgreSQL.

It is called with the call and ``proceed`` (the rest of the chain), on the application's
thread, ordered by weight among generator wrappers; it may replace what the terminal call
runs, see and replace the driver's error, and return what the application gets. A plugin
with both forms, a fast form ordered inside a plain pluggy implementation, and a fast form
without an async form on ``connect_async`` are refused with errors that say what to do.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator, Iterator
from typing import Any, ClassVar

import psycopg
import pytest

import sturdydb
from sturdydb import Call, Plugin, hookimpl
from sturdydb._discovery import register_plugin, unregister_plugin
from sturdydb._errors import ConfigurationError
from sturdydb.plugin_api import Proceed

events: list[tuple[Any, ...]] = []


class _OnExecute(Plugin):
    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method == "Cursor.execute"


class GenOuter(_OnExecute):
    code: ClassVar[str] = "t_gen_outer"
    weight: ClassVar[int] = 10

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        events.append(("gen_outer:before",))
        result = yield
        events.append(("gen_outer:after", type(result).__name__))
        return result


class Around(_OnExecute):
    code: ClassVar[str] = "t_around"
    weight: ClassVar[int] = 20

    @hookimpl
    def sturdydb_execute_around(self, call: Call, proceed: Proceed) -> Any:
        events.append(("around:before", call.method, call.args, threading.current_thread().name))
        try:
            result = proceed(call)
        except psycopg.errors.DivisionByZero as exc:
            events.append(("around:error", type(exc).__name__))
            raise sturdydb.ProgrammingError("division by zero, seen by the fast form") from exc
        events.append(("around:after",))
        return result


class GenInner(_OnExecute):
    code: ClassVar[str] = "t_gen_inner"
    weight: ClassVar[int] = 30

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        events.append(("gen_inner:before",))
        try:
            return (yield)
        finally:
            events.append(("gen_inner:after",))


class AroundRewriter(_OnExecute):
    """Innermost fast form: replaces the statement the driver runs."""

    code: ClassVar[str] = "t_around_rewriter"
    weight: ClassVar[int] = 40

    @hookimpl
    def sturdydb_execute_around(self, call: Call, proceed: Proceed) -> Any:
        original = call.func
        call.func = lambda query, params=None: original("SELECT 42")
        return proceed(call)


class BothForms(_OnExecute):
    code: ClassVar[str] = "t_both_forms"

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        return (yield)

    @hookimpl
    def sturdydb_execute_around(self, call: Call, proceed: Proceed) -> Any:
        return proceed(call)


class OldStyle(_OnExecute):
    code: ClassVar[str] = "t_old_style"
    weight: ClassVar[int] = 25

    @hookimpl(hookwrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, None]:
        events.append(("old_style:before",))
        yield
        events.append(("old_style:after",))


_PLUGINS = (GenOuter, Around, GenInner, AroundRewriter, BothForms, OldStyle)


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    for cls in _PLUGINS:
        register_plugin(cls)
    events.clear()
    yield
    for cls in _PLUGINS:
        unregister_plugin(cls.code)


@pytest.mark.hookspec("sturdydb_execute_around")
def test_the_fast_form_runs_in_weight_order_among_generator_wrappers(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo,
                          plugins="t_gen_inner,t_around,t_gen_outer") as conn:
        cur = conn.cursor()
        cur.execute("SELECT %s", (5,))
        assert cur.fetchone() == (5,)
    assert events == [
        ("gen_outer:before",),
        ("around:before", "Cursor.execute", ("SELECT %s", (5,)), threading.current_thread().name),
        ("gen_inner:before",),
        ("gen_inner:after",),
        ("around:after",),
        ("gen_outer:after", "Cursor"),  # what execute returned, through every layer
    ]


@pytest.mark.hookspec("sturdydb_execute_around")
def test_the_fast_form_sees_the_drivers_error_and_replaces_it(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_around,t_gen_inner",
                          autocommit=True) as conn:
        with pytest.raises(sturdydb.ProgrammingError, match="seen by the fast form") as info:
            conn.cursor().execute("SELECT 1/0")
        assert isinstance(info.value.__cause__, psycopg.errors.DivisionByZero)
        # The connection is still usable: the error was the statement's, not the connection's.
        assert conn.cursor().execute("SELECT 2").fetchone() == (2,)
    assert ("around:error", "DivisionByZero") in events
    assert events.count(("gen_inner:after",)) == 2  # the inner wrapper saw both calls end


@pytest.mark.hookspec("sturdydb_execute_around")
def test_the_driver_runs_what_the_innermost_fast_form_put_in_the_call(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo,
                          plugins="t_around,t_around_rewriter") as conn:
        assert conn.cursor().execute("SELECT 1").fetchone() == (42,)


def test_a_plugin_with_both_forms_is_refused(pg_conninfo: str) -> None:
    with pytest.raises(ConfigurationError, match=r"'t_both_forms' implements both .*keep one"):
        sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_both_forms")


def test_a_fast_form_outside_a_pluggy_implementation_wraps_it(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_around,t_old_style") as conn:
        assert conn.cursor().execute("SELECT 3").fetchone() == (3,)
    assert [e[0] for e in events] == ["around:before", "old_style:before", "old_style:after", "around:after"]


def test_a_fast_form_inside_a_pluggy_implementation_is_refused(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo,
                          plugins="t_old_style,t_around_rewriter") as conn, \
            pytest.raises(ConfigurationError, match=r"'t_around_rewriter' .* ordered inside"):
        conn.cursor().execute("SELECT 1")


def test_a_fast_form_without_an_async_form_is_refused_on_async_connections(pg_conninfo: str) -> None:
    async def scenario() -> None:
        with pytest.raises(ConfigurationError, match=r"'t_around'.*sturdydb_execute_async"):
            await sturdydb.connect_async(psycopg.AsyncConnection.connect, pg_conninfo, plugins="t_around")

    asyncio.run(scenario())


def test_a_fast_form_outside_a_generator_outside_a_pluggy_implementation(pg_conninfo: str) -> None:
    # Only what is inside the first plain/old-style implementation runs through pluggy; a
    # generator wrapper outside the fast form is compiled with it.
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo,
                          plugins="t_gen_outer,t_around,t_old_style") as conn:
        assert conn.cursor().execute("SELECT 4").fetchone() == (4,)
    assert [e[0] for e in events] == ["gen_outer:before", "around:before", "old_style:before",
                                      "old_style:after", "around:after", "gen_outer:after"]


class SlotChecker(Plugin):
    """Checks that every Call reaching the chain has every slot set (the hot paths build
    Calls field by field, without ``__init__``)."""

    code: ClassVar[str] = "t_slot_checker"

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return True

    @hookimpl
    def sturdydb_execute_around(self, call: Call, proceed: Proceed) -> Any:
        missing = [name for name in Call.__slots__ if not hasattr(call, name)]
        events.append(("checked", call.method, tuple(missing)))
        return proceed(call)


def test_every_call_on_the_hot_paths_has_every_field(pg_conninfo: str) -> None:
    register_plugin(SlotChecker)
    try:
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_slot_checker") as conn:
            cur = conn.cursor()
            cur.execute("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3")
            assert cur.fetchone() == (1,)
            assert cur.fetchmany(1) == [(2,)]
            assert cur.fetchall() == [(3,)]
            cur.close()
            conn.commit()
    finally:
        unregister_plugin("t_slot_checker")
    checked = {e[1]: e[2] for e in events if e[0] == "checked"}
    for method in ("Connection.cursor", "Cursor.execute", "Cursor.fetchone", "Cursor.fetchmany",
                   "Cursor.fetchall", "Cursor.close", "Connection.commit"):
        assert checked.get(method) == (), (method, checked)
