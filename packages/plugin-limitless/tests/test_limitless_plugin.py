"""The limitless plugin's rules without a server: load to weight, properties, and the retry
order over routers (the real shard group is in ``tests/integration``)."""

from __future__ import annotations

from typing import Any

import pytest

import sturdydb
from sturdydb.plugin_api import HostInfo, build_properties
from sturdydb_limitless import LimitlessPlugin, LimitlessSettings, router_weight
from sturdydb_limitless import plugin as plugin_module


@pytest.mark.parametrize(("load", "weight"), [
    (0, 10), (0.0, 10), (0.05, 10), (0.1, 9), (0.55, 5), (0.95, 1), (0.99, 1), (1.0, 1),
    (-0.1, 1), (1.5, 1), (None, 1), ("busy", 1), ("0.3", 7),
])
def test_weight_is_ten_minus_the_load_tenths_clamped(load: Any, weight: int) -> None:
    assert router_weight(load) == weight


def test_properties_have_the_reference_names_and_defaults() -> None:
    props = build_properties("host=h dbname=d", plugins="limitless")
    settings = LimitlessSettings.from_props(props)
    assert settings.interval == 7.5
    assert settings.disposal == 600.0
    assert settings.wait_for_routers is True
    assert settings.read_retry_interval == 0.3  # milliseconds, not the reference's seconds
    assert settings.read_retries == 5
    assert settings.connect_budget == 7.5
    assert "limitless_max_retries_ms" not in props.driver_kwargs()


def test_monitor_connection_properties_never_reach_the_application_connection() -> None:
    props = build_properties("host=h dbname=d", plugins="limitless",
                             **{"limitless-router-monitor-connect_timeout": "2"})
    assert LimitlessSettings.from_props(props).monitor_props == {"connect_timeout": "2"}
    assert not any(k.startswith("limitless") for k in props.driver_kwargs())


def test_bad_values_are_refused_with_the_property_name() -> None:
    with pytest.raises(sturdydb.ConfigurationError, match="limitless_transaction_router_monitor_interval_ms"):
        build_properties("host=h", plugins="limitless", limitless_transaction_router_monitor_interval_ms=1)


class _Driver:
    def is_network_error(self, exc: BaseException) -> bool:
        return isinstance(exc, ConnectionError)


class _Context:
    driver = _Driver()
    cluster_id = "shard-group"
    host = HostInfo("endpoint", 5432)


class _Request:
    def __init__(self) -> None:
        self.context = _Context()
        self.host = HostInfo("endpoint", 5432)
        self.purpose = "connect"


def _routers() -> list[HostInfo]:
    return [HostInfo(f"10.0.0.{i}", 5432, weight=w) for i, w in ((1, 3), (2, 9), (3, 6), (4, 1))]


def _settings(budget: float = 5.0) -> LimitlessSettings:
    return LimitlessSettings(7.5, 600, True, 0.3, 5, budget, {})


def test_retry_tries_the_other_routers_highest_weight_first_each_once(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[str] = []

    def connect_below(plugin: Any, request: Any) -> str:
        tried.append(request.host.host)
        if request.host.host != "10.0.0.1":
            raise ConnectionError(f"{request.host.host} refused")
        return "connection"

    monkeypatch.setattr(plugin_module, "connect_below", connect_below)
    request = _Request()
    conn = LimitlessPlugin()._retry(request, _routers(), {"10.0.0.2:5432"}, ConnectionError("x"), _settings())  # type: ignore[arg-type]
    assert conn == "connection"
    assert tried == ["10.0.0.3", "10.0.0.1"]  # 10.0.0.2 already failed; weight 6, then 3
    assert request.context.host.host == "10.0.0.1"  # the application's connection names its router


def test_retry_raises_the_last_network_error_when_every_router_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def connect_below(plugin: Any, request: Any) -> str:
        raise ConnectionError(f"{request.host.host} refused")

    monkeypatch.setattr(plugin_module, "connect_below", connect_below)
    with pytest.raises(ConnectionError, match=r"10\.0\.0\.4 refused"):
        LimitlessPlugin()._retry(_Request(), _routers(), {"10.0.0.2:5432"}, ConnectionError("x"), _settings())  # type: ignore[arg-type]


def test_retry_stops_at_once_on_an_error_another_router_would_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[str] = []

    def connect_below(plugin: Any, request: Any) -> str:
        tried.append(request.host.host)
        raise PermissionError("password authentication failed")

    monkeypatch.setattr(plugin_module, "connect_below", connect_below)
    with pytest.raises(PermissionError):
        LimitlessPlugin()._retry(_Request(), _routers(), set(), ConnectionError("x"), _settings())  # type: ignore[arg-type]
    assert tried == ["10.0.0.2"]


def test_retry_respects_its_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin_module, "connect_below", lambda plugin, request: "never")
    with pytest.raises(ConnectionError, match="first"):
        LimitlessPlugin()._retry(_Request(), _routers(), set(), ConnectionError("first"), _settings(budget=0))  # type: ignore[arg-type]


class _GoneContext:
    """Stands for a connection context that is garbage-collected at once (no server needed)."""


def test_the_monitor_is_a_lazy_named_daemon_that_ends_after_its_disposal_time() -> None:
    from sturdydb_limitless import RouterMonitor

    settings = LimitlessSettings(0.05, 0.3, True, 0.3, 5, 5.0, {})
    monitor = RouterMonitor("shard-group-x", HostInfo("endpoint", 5432), settings)
    assert monitor.thread.thread is None  # nothing runs before the first connect
    monitor.publish([HostInfo("10.0.0.1", 5432, weight=10)])
    assert [h.host for h in monitor.wait_for_routers(1)] == ["10.0.0.1"]
    ctx = _GoneContext()
    monitor.use(ctx)  # type: ignore[arg-type]
    del ctx
    thread = monitor.thread.thread
    assert thread is not None and thread.daemon and thread.name == "sturdydb-limitless-shard-group-x"
    thread.join(5)
    assert not thread.is_alive()
    assert monitor.routers == []  # the list is forgotten with the monitor


def test_release_stops_the_monitor_without_waiting_for_its_interval() -> None:
    from sturdydb_limitless import RouterMonitor

    settings = LimitlessSettings(60.0, 600.0, True, 0.3, 5, 5.0, {})
    monitor = RouterMonitor("shard-group-y", HostInfo("endpoint", 5432), settings)
    ctx = _GoneContext()
    monitor.use(ctx)  # type: ignore[arg-type]
    del ctx  # the thread now sleeps its 60 s interval
    assert monitor.thread.running
    sturdydb.release_resources()
    assert monitor.thread.stop(timeout=5)
