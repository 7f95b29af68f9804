"""The plugin on the machine's own PostgreSQL and MariaDB, behind relays that go silent or slow.

Short settings keep these fast: calls are probed after 300 ms, every 200 ms (100 ms to answer),
and aborted after 2 failed probes. Timing targets are in the benchmark; the bounds here only
guard against hangs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import mysql.connector
import psycopg
import pytest

import sturdydb
from sturdydb import ConfigurationError
from sturdydb_efm import HostMonitoringPlugin, service
from sturdydb_testing.relay import Relay

FAST = {"failure_detection_time_ms": 300, "failure_detection_interval_ms": 200, "failure_detection_count": 2}


def pg_connect(relay: Relay, **props: Any) -> sturdydb.Connection:
    return sturdydb.connect(psycopg.Connection.connect,
                            f"host=127.0.0.1 port={relay.port} dbname=test user=postgres",
                            autocommit=True, **{"plugins": "host_monitoring", **FAST, **props})


def mysql_connect(relay: Relay, **props: Any) -> sturdydb.Connection:
    return sturdydb.connect(mysql.connector.connect, host="127.0.0.1", port=relay.port, user="root",
                            password="", database="test", use_pure=True, autocommit=True,
                            **{"plugins": "host_monitoring", **FAST, **props})


ENGINES: dict[str, tuple[str, Callable[..., sturdydb.Connection], str]] = {
    "pg": ("pg_relay", pg_connect, "SELECT pg_sleep({})"),
    "mysql": ("mysql_relay", mysql_connect, "SELECT SLEEP({})"),
}


@pytest.fixture(params=list(ENGINES))
def engine(request: pytest.FixtureRequest) -> tuple[Relay, Callable[..., sturdydb.Connection], str]:
    fixture, connect, sleep_sql = ENGINES[request.param]
    return request.getfixturevalue(fixture), connect, sleep_sql


def run_in_thread(func: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        began = time.monotonic()
        try:
            outcome["result"] = func()
        except BaseException as exc:
            outcome["error"] = exc
        outcome["elapsed"] = time.monotonic() - began

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def query(conn: sturdydb.Connection, sql: str) -> Any:
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchall()


def test_a_call_blocked_on_a_silent_host_fails_with_the_drivers_network_error(engine: Any) -> None:
    relay, connect, sleep_sql = engine
    conn = connect(relay)
    assert query(conn, "SELECT 1") == [(1,)]
    thread, outcome = run_in_thread(lambda: query(conn, sleep_sql.format(60)))
    time.sleep(0.1)
    relay.pause()  # the host goes silent during the call, before the grace time
    thread.join(20)
    assert not thread.is_alive(), "the blocked call was never aborted"
    error = outcome["error"]
    driver_error = psycopg.OperationalError if conn.context.driver.name == "psycopg" else mysql.connector.Error
    assert isinstance(error, driver_error)
    assert not isinstance(error, sturdydb.Error), "the driver's own error propagates unchanged"
    assert conn.context.driver.is_network_error(error)
    (monitor,) = service.monitors()
    assert monitor.detections == 1


def test_a_long_query_on_a_healthy_host_is_never_aborted(engine: Any) -> None:
    relay, connect, sleep_sql = engine
    conn = connect(relay)
    assert len(query(conn, sleep_sql.format(3))) == 1
    (monitor,) = service.monitors()
    assert monitor.probes >= 10, "the host was probed during the query"
    assert monitor.detections == 0
    assert monitor.failed_probes == 0


def test_a_slow_host_that_answers_within_the_probe_timeout_is_never_declared_dead(engine: Any) -> None:
    relay, connect, sleep_sql = engine
    conn = connect(relay, failure_detection_interval_ms=500)  # probes have 250 ms to answer
    query(conn, "SELECT 1")
    relay.latency = 0.04  # 80 ms per round trip
    query(conn, sleep_sql.format(3))
    (monitor,) = service.monitors()
    assert monitor.probes >= 4
    assert monitor.detections == 0


def test_properties_are_validated_when_connecting(pg_relay: Relay) -> None:
    with pytest.raises(ConfigurationError, match="failure_detection_interval_ms"):
        pg_connect(pg_relay, failure_detection_interval_ms=10)
    with pytest.raises(ConfigurationError, match="failure_detection_count"):
        pg_connect(pg_relay, failure_detection_count="many")
    with pytest.raises(ConfigurationError, match="monitoring-connect_timeout"):
        pg_connect(pg_relay, **{"monitoring-connect_timeout": "soon"})


def test_a_bad_setting_fails_every_connect_not_only_the_first(pg_relay: Relay) -> None:
    for _ in range(2):
        with pytest.raises(ConfigurationError, match="monitoring-connect_timeout"):
            pg_connect(pg_relay, **{"monitoring-connect_timeout": "later"})


def test_each_connection_monitors_with_its_own_properties(pg_relay: Relay) -> None:
    first, same = pg_connect(pg_relay), pg_connect(pg_relay)
    other = pg_connect(pg_relay, failure_detection_time_ms=700, **{"monitoring-connect_timeout": "4"})
    try:
        slots = [conn.context.plugin_state["host_monitoring"] for conn in (first, same, other)]
        # Same arguments: the settings were computed once and are shared.
        assert slots[1].rule is slots[0].rule
        assert slots[0].grace == 0.3 and slots[0].monitoring_props == {}
        # Other arguments: their own settings.
        assert slots[2].grace == 0.7 and slots[2].rule.interval == 0.2
        assert slots[2].monitoring_props == {"connect_timeout": "4"}
    finally:
        for conn in (first, same, other):
            conn.close()


def test_disabled_monitoring_leaves_the_chain(pg_relay: Relay) -> None:
    conn = pg_connect(pg_relay, failure_detection_enabled="false")
    assert "host_monitoring" not in conn.context.pipeline.codes
    query(conn, "SELECT 1")
    assert service.stats()["monitors"] == 0


def test_the_aliases_select_the_plugin(pg_relay: Relay) -> None:
    for code in ("host_monitoring_v2", "efm"):
        conn = pg_connect(pg_relay, plugins=code)
        assert conn.context.pipeline.codes == ("host_monitoring",)
        assert isinstance(conn.context.pipeline.plugins[0], HostMonitoringPlugin)
        conn.close()


def test_monitoring_properties_reach_only_the_monitoring_connection(pg_relay: Relay) -> None:
    conn = pg_connect(pg_relay, **{"monitoring-application_name": "sturdydb-monitor",
                                   "monitoring-connect_timeout": "3"})
    assert "application_name" not in conn.context.props.driver_kwargs()
    assert query(conn, "SHOW application_name") != [("sturdydb-monitor",)]
    query(conn, "SELECT pg_sleep(0.6)")  # probed: the monitoring connection is open
    count = query(conn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sturdydb-monitor' "
                        "AND client_port IS NOT NULL AND pid <> pg_backend_pid()")
    assert count[0][0] >= 1


def test_monitoring_follows_the_connection_to_its_new_host(pg_relay: Relay) -> None:
    second = Relay(5432)
    try:
        conn = pg_connect(pg_relay)
        query(conn, "SELECT 1")
        ctx = conn.context
        new_host = sturdydb.HostInfo("127.0.0.1", second.port)
        raw = ctx.open(new_host, purpose="reconnect")
        ctx.set_connection(raw, new_host)  # what failover does
        query(conn, "SELECT 1")
        assert [m.host for m in service.monitors() if m.slots] == [new_host]
        pg_relay.pause()  # the old host going silent does not matter any more
        assert len(query(conn, "SELECT pg_sleep(1)")) == 1
        second.pause()
        thread, outcome = run_in_thread(lambda: query(conn, "SELECT pg_sleep(60)"))
        thread.join(20)
        assert not thread.is_alive()
        assert isinstance(outcome["error"], psycopg.OperationalError)
    finally:
        second.close()


def test_a_switch_that_keeps_the_old_connection_keeps_one_registration_per_host(pg_relay: Relay) -> None:
    second = Relay(5432)
    try:
        conn = pg_connect(pg_relay)
        query(conn, "SELECT 1")
        ctx = conn.context
        first_host, first_slot = ctx.host, ctx.plugin_state["host_monitoring"]
        first_raw = ctx.connection
        new_host = sturdydb.HostInfo("127.0.0.1", second.port)
        raw = ctx.open(new_host, purpose="reconnect")
        ctx.set_connection(raw, new_host, keep_old=True)  # what read/write splitting does
        query(conn, "SELECT 1")
        second_slot = ctx.plugin_state["host_monitoring"]
        assert second_slot is not first_slot and second_slot.host == new_host
        # Both hosts keep this connection's registration: the kept one idle.
        assert sorted(m.host.port for m in service.monitors() if m.slots) == sorted([pg_relay.port, second.port])
        assert first_slot.monitor is not None and not first_slot.in_flight
        ctx.set_connection(first_raw, first_host, keep_old=True)  # and back: the same slot again
        assert ctx.plugin_state["host_monitoring"] is first_slot
        ctx.set_connection(raw, new_host, keep_old=True)
        assert ctx.plugin_state["host_monitoring"] is second_slot and second_slot.conn is raw
        pg_relay.pause()  # the kept connection's host going silent does not touch the current one
        assert len(query(conn, "SELECT pg_sleep(1)")) == 1
        assert not first_raw.closed
        second.pause()  # the current host going silent: its call is aborted as before
        thread, outcome = run_in_thread(lambda: query(conn, "SELECT pg_sleep(60)"))
        thread.join(20)
        assert not thread.is_alive()
        assert isinstance(outcome["error"], psycopg.OperationalError)
        first_raw.close()
    finally:
        second.close()


def test_many_connections_share_one_monitor_thread_and_connection(pg_relay: Relay) -> None:
    conns = [pg_connect(pg_relay) for _ in range(40)]
    threads = [run_in_thread(lambda c=c: query(c, "SELECT pg_sleep(1)"))[0] for c in conns]  # type: ignore[misc]
    time.sleep(0.7)
    stats = service.stats()
    for t in threads:
        t.join(20)
    assert stats["monitors"] == 1
    assert stats["threads"] == 1
    assert stats["monitoring_connections"] == 1
    assert stats["slots"] == 40
    assert [t.name for t in threading.enumerate() if t.name.startswith("sturdydb-efm-")
            and t.name.endswith(f":{pg_relay.port}")] == [f"sturdydb-efm-127.0.0.1:{pg_relay.port}"]
    for c in conns:
        c.close()


def test_a_connection_that_fails_after_the_driver_connected_is_closed(
    engine: tuple[Relay, Callable[..., sturdydb.Connection], str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    relay, connect, _ = engine
    seen: list[Any] = []

    def fail(ctx: Any, conn: Any, host: Any) -> Any:
        seen.append(conn)
        raise RuntimeError("identification failed")

    monkeypatch.setattr("sturdydb_efm.plugin.identify_instance", fail)
    with pytest.raises(RuntimeError, match="identification failed"):
        connect(relay)
    assert len(seen) == 1
    raw = seen[0]
    # Nobody else holds the raw connection, so the plugin must have closed it.
    assert raw.closed if isinstance(raw, psycopg.Connection) else not raw.is_connected()


def test_a_detection_reaches_every_plugin_of_the_chain_as_host_state_changed(engine: Any) -> None:
    # efm reports the verdict to the core, which broadcasts sturdydb_host_state_changed.
    reports: list[tuple[str, bool, str]] = []
    reported = threading.Event()

    class Listener(sturdydb.Plugin):
        code = "t_host_state_listener"

        @sturdydb.hookimpl
        def sturdydb_host_state_changed(self, host: sturdydb.HostInfo, available: bool, reason: str) -> None:
            reports.append((host.url, available, reason))
            reported.set()

    sturdydb.register_plugin(Listener)
    try:
        relay, connect, sleep_sql = engine
        conn = connect(relay, plugins="host_monitoring,t_host_state_listener")
        thread, outcome = run_in_thread(lambda: query(conn, sleep_sql.format(60)))
        time.sleep(0.1)
        relay.pause()
        thread.join(20)
        assert not thread.is_alive(), "the blocked call was never aborted"
        assert conn.context.driver.is_network_error(outcome["error"])
        # The verdict is reported right after the abort, from the watchdog thread.
        assert reported.wait(10)
        assert [(url, available) for url, available, _ in reports] == [(f"127.0.0.1:{relay.port}", False)]
        assert "consecutive probes" in reports[0][2]
    finally:
        sturdydb.unregister_plugin("t_host_state_listener")
