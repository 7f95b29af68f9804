"""New connects during and after a switchover: held, sent to green's address, or left alone."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import psycopg
import pytest
from bg_fakes import BLUE_CLUSTER, DOMAIN, GREEN_CLUSTER, FakeContext, resolve, rows

from sturdydb import HostInfo
from sturdydb.plugin_api import build_properties
from sturdydb_blue_green import monitor as bg_monitor
from sturdydb_blue_green.errors import SwitchoverInProgressError
from sturdydb_blue_green.plugin import CODE, BlueGreenPlugin
from sturdydb_blue_green.status import Role, parse_rows


class _Request:
    def __init__(self, host: str, **props: Any) -> None:
        self.context = FakeContext()
        self.context.props = build_properties(  # type: ignore[attr-defined]
            f"host={host} plugins=bg bg_id=connect", psycopg.Connection.connect, **props)
        self.props = self.context.props  # type: ignore[attr-defined]
        self.host = HostInfo(host, 5432)
        self.purpose = "connect"


def _connect(plugin: BlueGreenPlugin, request: _Request) -> Any:
    gen: Generator[None, Any, Any] = plugin.sturdydb_connect(request)  # type: ignore[arg-type]
    next(gen)
    try:
        gen.send(f"driver-conn-to-{request.host.host}")
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the wrapper yielded twice")


def _deployment(*statuses: str) -> bg_monitor.Deployment:
    dep = bg_monitor.deployment("connect")
    dep._resolve = resolve
    for status in statuses:
        dep.publish(parse_rows(rows(status, renamed=status.endswith("PROCESSING") or status.endswith("COMPLETED"))))
    return dep


def test_after_a_switchover_a_connect_to_a_blue_name_goes_to_greens_address() -> None:
    _deployment("AVAILABLE", "SWITCHOVER_COMPLETED")
    request = _Request(BLUE_CLUSTER)
    assert _connect(BlueGreenPlugin(), request) == "driver-conn-to-127.0.2.1"
    state = request.context.plugin_state[CODE]
    assert state.role is Role.TARGET and state.name == BLUE_CLUSTER


def test_before_a_switchover_and_for_old_or_unknown_names_the_connect_is_untouched() -> None:
    _deployment("AVAILABLE")
    assert _connect(BlueGreenPlugin(), _Request(BLUE_CLUSTER)) == f"driver-conn-to-{BLUE_CLUSTER}"
    _deployment("SWITCHOVER_COMPLETED")
    for host in (f"app-old1.cluster-{DOMAIN}", "db.internal.example"):
        assert _connect(BlueGreenPlugin(), _Request(host)) == f"driver-conn-to-{host}"


def test_during_the_switchover_green_connects_are_held_and_fail_when_the_time_is_up() -> None:
    _deployment("AVAILABLE", "SWITCHOVER_IN_PROGRESS")
    with pytest.raises(SwitchoverInProgressError, match="not attempted"):
        _connect(BlueGreenPlugin(), _Request(GREEN_CLUSTER, bg_connect_timeout_ms=50))


def test_during_the_switchover_blue_connects_pass_unless_suspended_and_their_calls_move_later() -> None:
    _deployment("AVAILABLE", "SWITCHOVER_IN_PROGRESS")
    request = _Request(BLUE_CLUSTER)
    assert _connect(BlueGreenPlugin(), request) == f"driver-conn-to-{BLUE_CLUSTER}"
    assert request.context.plugin_state[CODE].epoch == 0  # the switch will make it stale
    with pytest.raises(SwitchoverInProgressError):
        _connect(BlueGreenPlugin(), _Request(BLUE_CLUSTER, bg_suspend_new_blue_connections=True,
                                             bg_connect_timeout_ms=50))
