"""Every hook is called with its documented arguments at its documented moment.

One recording plugin implements every hook; each test drives the core (against the local
PostgreSQL server) to the moment the hook's docstring names and checks what arrived. Each test
is marked ``@pytest.mark.hookspec("<hook>")``: ``test_every_hookspec_is_tested.py`` fails when
a hook in ``sturdydb.hookspecs`` has no marked test.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import psycopg
import pytest

import sturdydb
from sturdydb import (
    Call,
    ConnectionContext,
    ConnectRequest,
    HostAvailability,
    HostInfo,
    HostRole,
    Plugin,
    Profile,
    PropertySpec,
    hookimpl,
)
from sturdydb._dialects import clear_dialect_cache
from sturdydb._dialects.base import DatabaseDialect
from sturdydb._dialects.pg import PgDialect
from sturdydb._discovery import catalog, register_plugin, reload_catalog, unregister_plugin
from sturdydb._errors import ConfigurationError
from sturdydb._topology import ClusterTopology, HostEvent, registry

events: list[tuple[Any, ...]] = []
contributions: list[str] = []
dialect_probes: list[tuple[str, Any]] = []


class TaggedPgDialect(PgDialect):
    """A contributed dialect that recognises the local server with a real query."""

    code: ClassVar[str] = "t-tagged-pg"
    refinements: ClassVar[tuple[str, ...]] = ()

    def is_dialect(self, driver: Any, conn: Any) -> bool:
        row = self._first(driver, conn, "SELECT current_setting('server_version_num')")
        dialect_probes.append((self.code, row))
        return row is not None and int(row[0]) > 0


class RefusingDialect(PgDialect):
    code: ClassVar[str] = "t-refusing-pg"
    refinements: ClassVar[tuple[str, ...]] = ()

    def is_dialect(self, driver: Any, conn: Any) -> bool:
        dialect_probes.append((self.code, None))
        return False


class Recorder(Plugin):
    code: ClassVar[str] = "t_recorder"

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method == "Cursor.execute"

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        events.append(("connect:before", request.purpose, request.host.url, request.context))
        conn = yield
        events.append(("connect:after", request.purpose, conn))
        return conn

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        events.append(("execute:before", call.method, call.args))
        result = yield
        events.append(("execute:after", call.method))
        return result

    @hookimpl
    def sturdydb_host_list_changed(
        self, topology: ClusterTopology, changes: Mapping[str, frozenset[HostEvent]]
    ) -> None:
        events.append(("host_list_changed", topology, dict(changes), tuple(topology.hosts),
                       threading.current_thread().name))

    @hookimpl
    def sturdydb_connection_changed(self, context: ConnectionContext, old: Any, new: Any, kept: bool) -> None:
        events.append(("connection_changed", context, old, new, context.connection, kept))

    @hookimpl
    def sturdydb_host_state_changed(self, host: HostInfo, available: bool, reason: str) -> None:
        events.append(("host_state_changed", host, available, reason,
                       threading.current_thread().name))

    @hookimpl
    def sturdydb_host_suspected(self, topology: ClusterTopology, host: HostInfo, reason: str) -> None:
        events.append(("host_suspected", topology, host, reason, tuple(topology.hosts),
                       threading.current_thread().name))

    @hookimpl
    def sturdydb_credentials_obtained(self, context: ConnectionContext, host: HostInfo, source: str,
                                      cached: bool, seconds: float) -> None:
        events.append(("credentials_obtained", context, host.url, source, cached, seconds,
                       threading.current_thread().name))

    @staticmethod
    @hookimpl
    def sturdydb_add_properties() -> Sequence[PropertySpec]:
        contributions.append("properties")
        return [PropertySpec("t_recorder_level", int, 1, "A property of the recording plugin.",
                             minimum=1)]

    @staticmethod
    @hookimpl
    def sturdydb_add_profiles() -> Sequence[Profile]:
        contributions.append("profiles")
        return [Profile("t-recorder-preset", plugins="t_recorder",
                        properties={"t_recorder_level": 7}, doc="Records every hook.")]


class DialectContributor(Plugin):
    code: ClassVar[str] = "t_dialects"
    requires_dialect: ClassVar[bool] = True

    @staticmethod
    @hookimpl
    def sturdydb_add_dialects() -> Sequence[DatabaseDialect]:
        contributions.append("dialects")
        return [RefusingDialect(), TaggedPgDialect()]


@pytest.fixture(autouse=True)
def _recorder() -> Iterator[None]:
    events.clear()
    contributions.clear()
    dialect_probes.clear()
    register_plugin(Recorder, distribution="t-recorder-dist")
    yield
    unregister_plugin("t_recorder")


@pytest.fixture
def cluster_id() -> Iterator[str]:
    name = f"t-hooks-{uuid.uuid4().hex[:8]}"
    yield name
    registry.clear()


def _named(kind: str) -> list[tuple[Any, ...]]:
    return [e for e in events if e[0] == kind]


@pytest.mark.hookspec("sturdydb_connect")
def test_connect_wraps_the_driver_connect_with_the_request(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_recorder") as conn:
        before, after = _named("connect:before"), _named("connect:after")
        assert [(e[1], e[2]) for e in before] == [("connect", "127.0.0.1:5432")]
        assert before[0][3] is conn.context
        assert after == [("connect:after", "connect", conn.context.connection)]
        aux = conn.context.open(purpose="auxiliary")
        try:
            assert _named("connect:before")[-1][1] == "auxiliary"
        finally:
            aux.close()


@pytest.mark.hookspec("sturdydb_execute")
def test_execute_wraps_each_call_of_a_wrapped_method(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_recorder") as conn:
        cur = conn.cursor()
        cur.execute("SELECT %s", (41,))
        assert cur.fetchone() == (41,)
    executes = [e for e in events if e[0].startswith("execute")]
    assert executes == [("execute:before", "Cursor.execute", ("SELECT %s", (41,))),
                        ("execute:after", "Cursor.execute")]


@pytest.mark.hookspec("sturdydb_host_list_changed")
def test_core_broadcasts_topology_changes_to_the_chains_of_the_cluster(
    pg_conninfo: str, cluster_id: str,
) -> None:
    # No plugin of this chain updates topologies: the core delivers the broadcast itself.
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_recorder",
                          cluster_id=cluster_id) as conn, \
            sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="",
                             cluster_id=cluster_id) as plain:
        topology = conn.context.topology
        assert conn.context.pipeline in topology.subscribers()
        assert plain.context.pipeline not in topology.subscribers()  # no topology hook in it
        writer = HostInfo("127.0.0.1", 5432, HostRole.WRITER)
        changes = topology.update([writer])
        assert changes == {"127.0.0.1:5432": frozenset({HostEvent.HOST_ADDED})}
        received = _named("host_list_changed")
        assert len(received) == 1
        _, topo, got, hosts_then, thread = received[0]
        assert topo is topology and topo.cluster_id == cluster_id
        assert got == changes
        assert hosts_then == (writer,)  # the new hosts are visible when the hook runs
        assert thread == threading.current_thread().name
        topology.update([writer])  # nothing changed: no broadcast
        assert len(_named("host_list_changed")) == 1
        registry.get(f"{cluster_id}-other").update([writer])  # another cluster: not ours
        assert len(_named("host_list_changed")) == 1


@pytest.mark.hookspec("sturdydb_host_list_changed")
def test_a_raising_topology_hook_does_not_stop_the_update(
    pg_conninfo: str, cluster_id: str, caplog: pytest.LogCaptureFixture,
) -> None:
    class Raising(Plugin):
        code: ClassVar[str] = "t_raising_topology"

        @hookimpl
        def sturdydb_host_list_changed(self, topology: ClusterTopology, changes: Any) -> None:
            raise RuntimeError("bug in a plugin")

    register_plugin(Raising)
    try:
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_raising_topology",
                              cluster_id=cluster_id) as bad, \
                sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_recorder",
                                 cluster_id=cluster_id), \
                caplog.at_level(logging.ERROR, "sturdydb._topology"):
            bad.context.topology.update([HostInfo("127.0.0.1", 5432, HostRole.WRITER)])
        assert len(_named("host_list_changed")) == 1
        assert any("sturdydb_host_list_changed" in r.getMessage() for r in caplog.records)
    finally:
        unregister_plugin("t_raising_topology")


@pytest.mark.hookspec("sturdydb_connection_changed")
def test_connection_changed_follows_a_switch(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_recorder") as conn:
        ctx = conn.context
        old = ctx.connection
        new = ctx.open(ctx.host, purpose="reconnect")
        ctx.set_connection(new, ctx.host)
        assert _named("connection_changed") == [("connection_changed", ctx, old, new, new, False)]
        assert old.closed  # closed before the hook ran
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)


@pytest.mark.hookspec("sturdydb_connection_changed")
def test_a_switch_that_keeps_the_old_connection_leaves_it_open(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_recorder") as conn:
        ctx = conn.context
        conn.autocommit = True
        old = ctx.connection
        new = ctx.open(ctx.host, purpose="reconnect")
        generation = ctx.generation
        ctx.set_connection(new, ctx.host, keep_old=True, carry_session=False)
        assert _named("connection_changed") == [("connection_changed", ctx, old, new, new, True)]
        assert not old.closed  # the caller keeps it (read/write splitting caches it)
        assert ctx.generation == generation + 1
        assert new.autocommit is False  # carry_session=False: the caller brings the state itself
        old.close()


class FuncReplacer(Plugin):
    """Replaces the call's function before yielding, as read/write splitting does."""

    code: ClassVar[str] = "t_func_replacer"

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method == "Cursor.execute"

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        original = call.func
        call.func = lambda query, params=None: original("SELECT 42")
        return (yield)


@pytest.mark.hookspec("sturdydb_execute")
def test_the_terminal_call_runs_the_function_a_wrapper_put_in_the_call(pg_conninfo: str) -> None:
    register_plugin(FuncReplacer)
    try:
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_func_replacer,t_recorder") as conn:
            cur = conn.cursor()
            cur.execute("SELECT 1")
            assert cur.fetchone() == (42,)
    finally:
        unregister_plugin("t_func_replacer")


@pytest.mark.hookspec("sturdydb_host_state_changed")
def test_core_broadcasts_a_reported_host_state(pg_conninfo: str, cluster_id: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_recorder",
                          cluster_id=cluster_id) as conn:
        topology = conn.context.topology
        topology.update([HostInfo("127.0.0.1", 5432, HostRole.WRITER)])
        topology.report_host_state(HostInfo("127.0.0.1", 5432), False, "no answer to 3 probes")
        (_, host, available, reason, thread), = _named("host_state_changed")
        assert (host.url, host.availability, available) == ("127.0.0.1:5432",
                                                            HostAvailability.UNAVAILABLE, False)
        assert reason == "no answer to 3 probes"
        assert thread == threading.current_thread().name
        assert topology.find("127.0.0.1") is not None
        assert topology.find("127.0.0.1").availability is HostAvailability.UNAVAILABLE  # type: ignore[union-attr]
        # The path failover uses: mark() by host name, then back up.
        topology.mark("127.0.0.1", HostAvailability.AVAILABLE, reason="answered again")
        last = _named("host_state_changed")[-1]
        assert (last[1].url, last[2], last[3]) == ("127.0.0.1:5432", True, "answered again")


@pytest.mark.hookspec("sturdydb_host_suspected")
def test_a_call_past_its_socket_timeout_reports_its_host_suspected_before_the_cancel(
    pg_conninfo: str, cluster_id: str,
) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_recorder",
                          cluster_id=cluster_id, socket_timeout=1, autocommit=True) as conn:
        topology = conn.context.topology
        topology.update([HostInfo("127.0.0.1", 5432, HostRole.WRITER)])
        hosts = topology.hosts
        cur = conn.cursor()
        with pytest.raises(sturdydb.QueryTimeoutError) as caught:
            cur.execute("SELECT pg_sleep(3)")
        assert caught.value.cancelled  # the healthy host took the cancel sent after the report
        (_, seen, host, reason, seen_hosts, thread), = _named("host_suspected")
        assert seen is topology
        assert host.url == conn.host.url == "127.0.0.1:5432"
        assert reason == "a call exceeded socket_timeout=1s"
        assert thread == "sturdydb-cancel"
        # A suspicion is not a verdict: nothing recorded, no state change broadcast.
        assert seen_hosts == hosts and topology.hosts == hosts
        assert topology.find("127.0.0.1").availability is HostAvailability.AVAILABLE  # type: ignore[union-attr]
        assert _named("host_state_changed") == []
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)


class RaisingSuspicionHook(Plugin):
    code: ClassVar[str] = "t_raising_suspicion"

    @hookimpl
    def sturdydb_host_suspected(self, topology: ClusterTopology, host: HostInfo, reason: str) -> None:
        raise RuntimeError("bug in a plugin")


@pytest.mark.hookspec("sturdydb_host_suspected")
def test_a_reported_suspicion_reaches_every_subscriber_on_the_reporting_thread(
    pg_conninfo: str, cluster_id: str, caplog: pytest.LogCaptureFixture,
) -> None:
    register_plugin(RaisingSuspicionHook)
    try:
        # Two chains of one cluster: the one that raises does not keep the other from hearing it.
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_raising_suspicion",
                              cluster_id=cluster_id) as raising, \
                sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_recorder",
                                 cluster_id=cluster_id) as conn:
            topology = conn.context.topology
            assert raising.context.topology is topology
            topology.update([HostInfo("127.0.0.1", 5432, HostRole.WRITER)])
            hosts = topology.hosts
            with caplog.at_level(logging.ERROR, logger="sturdydb.topology"):
                topology.report_host_suspected(HostInfo("127.0.0.1", 5432), "test: slow answer")
            (_, seen, host, reason, _, thread), = _named("host_suspected")
            assert (seen, host.url, reason) == (topology, "127.0.0.1:5432", "test: slow answer")
            assert thread == threading.current_thread().name
            assert topology.hosts is hosts  # nothing recorded
            assert "sturdydb_host_suspected implementation" in caplog.text
    finally:
        unregister_plugin("t_raising_suspicion")


class FakeAuth(Plugin):
    """An auth plugin inside the recorder: a cache miss on the first connect, hits after."""

    code: ClassVar[str] = "t_fake_auth"
    weight: ClassVar[int] = 700
    fetched = False

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        cached = type(self).fetched
        type(self).fetched = True
        request.context.report_credentials(request.host, "t_vault", cached, 0.25)
        return (yield)


class RaisingCredentialsHook(Plugin):
    code: ClassVar[str] = "t_raising_credentials"

    @hookimpl
    def sturdydb_credentials_obtained(self, context: ConnectionContext, host: HostInfo, source: str,
                                      cached: bool, seconds: float) -> None:
        raise RuntimeError("bug in a plugin")


@pytest.mark.hookspec("sturdydb_credentials_obtained")
def test_credentials_obtained_reaches_the_chain_inside_the_connect(
    pg_conninfo: str, caplog: pytest.LogCaptureFixture,
) -> None:
    register_plugin(FakeAuth)
    register_plugin(RaisingCredentialsHook)
    FakeAuth.fetched = False
    try:
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_recorder,t_fake_auth") as conn:
            ctx = conn.context
            kinds = [e[0] for e in events]
            # During the connect, before the driver's connection came back through the chain.
            assert kinds.index("credentials_obtained") < kinds.index("connect:after")
            (found,) = _named("credentials_obtained")
            assert found == ("credentials_obtained", ctx, "127.0.0.1:5432", "t_vault", False, 0.25,
                             threading.current_thread().name)
            aux = ctx.open(purpose="auxiliary")  # every physical connect reports; a hit has 0 s
            aux.close()
            assert _named("credentials_obtained")[-1][3:6] == ("t_vault", True, 0.0)
        # A raising implementation is logged and the connect still succeeds.
        events.clear()
        with caplog.at_level(logging.ERROR, "sturdydb.connection"), \
                sturdydb.connect(psycopg.Connection.connect, pg_conninfo,
                                 plugins="t_recorder,t_fake_auth,t_raising_credentials") as conn:
            assert conn.cursor().execute("SELECT 1").fetchone() == (1,)
        assert any("sturdydb_credentials_obtained" in r.getMessage() for r in caplog.records)
        # Delivered to the reporting context's chain only: no auth plugin here, no report.
        events.clear()
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_recorder"):
            pass
        assert _named("credentials_obtained") == []
    finally:
        unregister_plugin("t_raising_credentials")
        unregister_plugin("t_fake_auth")


@pytest.mark.hookspec("sturdydb_add_properties")
def test_contributed_properties_are_collected_once_per_catalog_and_validated(pg_conninfo: str) -> None:
    assert contributions.count("properties") == 1  # register_plugin rebuilt the catalog once
    spec = catalog().registry.get("t_recorder_level")
    assert spec is not None and spec.default == 1
    reload_catalog()
    assert contributions.count("properties") == 2
    with pytest.raises(ConfigurationError, match="t_recorder_level"):
        sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_recorder",
                         t_recorder_level=0)


@pytest.mark.hookspec("sturdydb_add_profiles")
def test_contributed_profiles_apply_and_name_their_distribution(pg_conninfo: str) -> None:
    assert contributions.count("profiles") == 1
    profile = catalog().all_profiles()["t-recorder-preset"]
    assert profile.source == "t-recorder-dist"
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo,
                          profile_name="t-recorder-preset") as conn:
        assert conn.context.pipeline.codes == ("t_recorder",)
        assert conn.context.props.get("t_recorder_level") == 7
        assert conn.context.props.sources["t_recorder_level"] == "profile:t-recorder-preset"


@pytest.mark.hookspec("sturdydb_add_dialects")
def test_contributed_dialects_are_tried_before_the_built_in_ones(pg_conninfo: str) -> None:
    register_plugin(DialectContributor)
    clear_dialect_cache()
    try:
        assert "dialects" in contributions
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_dialects") as conn:
            dialect = conn.context.dialect
            assert isinstance(dialect, TaggedPgDialect)
            # In contribution order, and the real query reached the server.
            assert [code for code, _ in dialect_probes] == ["t-refusing-pg", "t-tagged-pg"]
            assert int(dialect_probes[1][1][0]) >= 100000
    finally:
        unregister_plugin("t_dialects")
        clear_dialect_cache()
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="") as conn:
        assert conn.context.dialect.code == "pg"  # without the plugin: the built-in detection
