"""The plugin pipeline: discovery, selection, ordering by weight, and wrapper semantics."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Any, ClassVar

import psycopg
import pytest

import sturdydb
from sturdydb import Call, ConnectRequest, Plugin, PropertySpec, hookimpl
from sturdydb._discovery import PluginCatalog, catalog, register_plugin, unregister_plugin
from sturdydb._errors import ConfigurationError
from sturdydb._pipeline import Pipeline, get_pipeline

events: list[str] = []


class _Recorder(Plugin):
    """Records the order in which wrappers see a call and its outcome."""

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method == "Cursor.execute"

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        events.append(f"{self.code}:before")
        try:
            return (yield)
        finally:
            events.append(f"{self.code}:after")

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        events.append(f"{self.code}:connect")
        return (yield)


class Outer(_Recorder):
    code: ClassVar[str] = "t_outer"
    weight: ClassVar[int] = 10


class Inner(_Recorder):
    code: ClassVar[str] = "t_inner"
    weight: ClassVar[int] = 20
    aliases: ClassVar[tuple[str, ...]] = ("t_inner_v2",)

    @staticmethod
    @hookimpl
    def sturdydb_add_properties() -> Sequence[PropertySpec]:
        return [PropertySpec("t_inner_level", int, 3, "test property", owner="t_inner", minimum=1)]


class Replacer(Plugin):
    """Replaces results and swallows one kind of error, to prove the wrapper contract."""

    code: ClassVar[str] = "t_replacer"
    weight: ClassVar[int] = 30

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method in ("Cursor.fetchone", "Cursor.execute")

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        try:
            result = yield
        except psycopg.errors.DivisionByZero:
            return "swallowed"
        if call.method == "Cursor.fetchone":
            return ("replaced",)
        return result


class Disabled(_Recorder):
    code: ClassVar[str] = "t_disabled"
    weight: ClassVar[int] = 5

    @classmethod
    def enabled(cls, props: Any) -> bool:
        return bool(props.get("t_inner_level", 3) > 5)


@pytest.fixture(autouse=True)
def _plugins() -> Iterator[None]:
    for cls in (Outer, Inner, Replacer, Disabled):
        register_plugin(cls, distribution="tests")
    events.clear()
    yield
    for cls in (Outer, Inner, Replacer, Disabled):
        unregister_plugin(cls.code)


def test_weights_decide_the_order_not_the_users_list(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_inner,t_outer") as conn:
        assert conn.context.pipeline.codes == ("t_outer", "t_inner")
        assert events == ["t_outer:connect", "t_inner:connect"]
        events.clear()
        conn.cursor().execute("SELECT 1")
    assert events == ["t_outer:before", "t_inner:before", "t_inner:after", "t_outer:after"]


def test_auto_sort_off_keeps_the_users_order(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_inner,t_outer",
                          auto_sort_wrapper_plugin_order="false") as conn:
        assert conn.context.pipeline.codes == ("t_inner", "t_outer")
        events.clear()
        conn.cursor().execute("SELECT 1")
    assert events[:2] == ["t_inner:before", "t_outer:before"]


def test_aliases_select_the_same_plugin_once(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_inner_v2,t_inner") as conn:
        assert conn.context.pipeline.codes == ("t_inner",)


def test_wrappers_can_replace_results_and_handle_errors(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_replacer") as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == ("replaced",)
        cur.execute("SELECT 1/0")  # the driver raised; the wrapper returned instead


def test_errors_pass_through_wrappers_unchanged(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_outer,t_inner") as conn, \
            pytest.raises(psycopg.errors.UndefinedTable):
        conn.cursor().execute("SELECT * FROM no_such_table_here")
    assert events[-2:] == ["t_inner:after", "t_outer:after"]


def test_methods_no_plugin_wraps_have_no_chain(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_outer") as conn:
        assert conn.context.chain("Cursor.fetchone") is None
        assert conn.context.chain("Cursor.execute") is not None


def test_disabled_plugins_leave_the_chain(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_disabled,t_inner") as conn:
        assert conn.context.pipeline.codes == ("t_inner",)
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_disabled,t_inner",
                          t_inner_level=9) as conn:
        assert conn.context.pipeline.codes == ("t_disabled", "t_inner")


def test_pipelines_are_built_once_per_plugin_set(pg_conninfo: str) -> None:
    a = sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_outer,t_inner")
    b = sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_inner,t_outer")
    try:
        assert a.context.pipeline is b.context.pipeline
        assert a.context.pipeline.plugins[0] is b.context.pipeline.plugins[0]
    finally:
        a.close()
        b.close()
    assert isinstance(get_pipeline([Outer]), Pipeline)


def test_contributed_properties_are_validated(pg_conninfo: str) -> None:
    assert catalog().registry.get("t_inner_level") is not None
    with pytest.raises(ConfigurationError, match="t_inner_level"):
        sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_inner", t_inner_level=0)


def test_unknown_code_lists_installed_and_suggests(pg_conninfo: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_outr")
    message = str(info.value)
    assert "did you mean 't_outer'" in message
    assert "t_inner" in message and "installed plugins" in message


def test_an_unknown_code_says_where_plugins_come_from_without_guessing_a_distribution() -> None:
    # The core knows no plugin by name: it cannot (and does not guess) which distribution an
    # uninstalled code comes from; it says how plugins are found and where ours are listed.
    empty = PluginCatalog()  # as if only the core were installed
    with pytest.raises(ConfigurationError, match="unknown plugin code 'host_monitoring'") as info:
        empty.resolve("host_monitoring")
    message = str(info.value)
    assert "installed plugins: none" in message
    assert "'sturdydb.plugins' entry-point group" in message
    assert "pip install" not in message


def test_empty_plugins_means_none(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="") as conn:
        assert conn.context.pipeline.codes == ()


def test_a_wrapper_that_yields_twice_is_reported(pg_conninfo: str) -> None:
    class Twice(Plugin):
        code: ClassVar[str] = "t_twice"

        def wraps_method(self, method: str, *, network_bound: bool) -> bool:
            return method == "Cursor.execute"

        @hookimpl(wrapper=True)
        def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
            yield
            yield  # a bug in a plugin

    register_plugin(Twice)
    try:
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_twice") as conn, \
                pytest.raises(RuntimeError, match="yielded more than once"):
            conn.cursor().execute("SELECT 1")
    finally:
        unregister_plugin("t_twice")


def test_old_style_implementations_run_through_pluggy(pg_conninfo: str) -> None:
    class Plain(Plugin):
        code: ClassVar[str] = "t_plain"

        def wraps_method(self, method: str, *, network_bound: bool) -> bool:
            return method == "Cursor.fetchone"

        @hookimpl(hookwrapper=True)
        def sturdydb_execute(self, call: Call) -> Generator[None, Any, None]:
            outcome = yield
            outcome.force_result(("from-hookwrapper",))

    register_plugin(Plain)
    try:
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_plain") as conn:
            cur = conn.cursor()
            cur.execute("SELECT 1")
            assert cur.fetchone() == ("from-hookwrapper",)
    finally:
        unregister_plugin("t_plain")


def test_three_wrappers_keep_their_order_and_the_innermost_replaces(pg_conninfo: str) -> None:
    # Three wrappers: the two innermost run in one compiled frame, the outer one around them.
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_outer,t_inner,t_replacer",
                          autocommit=True) as conn:
        events.clear()
        cur = conn.cursor()
        cur.execute("SELECT 1/0")  # the innermost swallows the driver's error: the others see a result
        assert events == ["t_outer:before", "t_inner:before", "t_inner:after", "t_outer:after"]
        cur.execute("SELECT 1")
        assert cur.fetchone() == ("replaced",)


class _Catcher(Plugin):
    """Outermost: turns any error of the calls inside it into a result."""

    code: ClassVar[str] = "t_catcher"
    weight: ClassVar[int] = 1

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method == "Cursor.execute"

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        try:
            return (yield)
        except Exception as exc:
            events.append(f"caught {type(exc).__name__}: {exc}")
            return None


class _Failing(Plugin):
    """Innermost: fails before the driver is called, or after it returned."""

    code: ClassVar[str] = "t_failing"
    weight: ClassVar[int] = 50

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method == "Cursor.execute"

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        if "before" in call.args[0]:
            raise ValueError("refused before the call")
        result = yield
        if "after" in call.args[0]:
            raise ValueError("refused after the call")
        if "twice" in call.args[0]:
            yield
        return result


@pytest.mark.parametrize(("sql", "caught"), [
    ("SELECT 'before'", "caught ValueError: refused before the call"),
    ("SELECT 'after'", "caught ValueError: refused after the call"),
    ("SELECT 'twice'", "caught RuntimeError: the sturdydb_execute wrapper"),
    ("SELECT 1/0", "caught DivisionByZero: division by zero"),
])
def test_an_inner_wrappers_error_is_thrown_into_the_outer_one(pg_conninfo: str, sql: str, caught: str) -> None:
    register_plugin(_Catcher)
    register_plugin(_Failing)
    try:
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_failing,t_catcher") as conn:
            events.clear()
            conn.cursor().execute(sql)
            assert len(events) == 1 and events[0].startswith(caught), events
    finally:
        unregister_plugin("t_catcher")
        unregister_plugin("t_failing")


class _NetworkRecorder(Plugin):
    """Records the network-bound calls that it wraps."""

    code: ClassVar[str] = "t_network"

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return network_bound

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        events.append(call.method)
        return (yield)


def test_mysql_connector_buffered_fetches_are_not_network_bound(mysql_conninfo: str) -> None:
    import mysql.connector

    register_plugin(_NetworkRecorder)
    try:
        with sturdydb.connect(mysql.connector.connect, mysql_conninfo, plugins="t_network",
                              consume_results=True) as conn:
            buffered = conn.cursor(buffered=True)
            events.clear()
            buffered.execute("SELECT 1 UNION ALL SELECT 2")
            assert (buffered.fetchone(), buffered.fetchall()) == ((1,), [(2,)])
            buffered.close()
            assert events == ["Cursor.execute"]  # the rows were read by execute()
            streaming = conn.cursor()
            events.clear()
            streaming.execute("SELECT 1 UNION ALL SELECT 2")
            assert streaming.fetchone() == (1,)
            streaming.close()  # reads the unread row from the server (consume_results)
            assert events == ["Cursor.execute", "Cursor.fetchone", "Cursor.close"]
    finally:
        unregister_plugin("t_network")
