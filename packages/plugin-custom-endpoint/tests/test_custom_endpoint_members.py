"""Custom endpoint membership rules and the shared member monitor (with a fake RDS API)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import sturdydb
from sturdydb import HostInfo, HostRole
from sturdydb_custom_endpoint.members import CustomEndpointInfo
from sturdydb_custom_endpoint.monitor import EndpointMonitor, monitors

W = HostInfo("instance-1.x", 5432, HostRole.WRITER, host_id="instance-1")
R2 = HostInfo("instance-2.x", 5432, HostRole.READER, host_id="instance-2")
R3 = HostInfo("instance-3.x", 5432, HostRole.READER, host_id="instance-3")


def _item(static: list[str] | None = None, excluded: list[str] | None = None, kind: str = "ANY") -> dict[str, Any]:
    return {"DBClusterEndpointIdentifier": "analytics", "DBClusterIdentifier": "c", "Endpoint": "analytics.x",
            "CustomEndpointType": kind, "StaticMembers": static or [], "ExcludedMembers": excluded or []}


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    sturdydb.reset_process_state()
    yield
    sturdydb.reset_process_state()


def test_static_members_are_the_only_members() -> None:
    info = CustomEndpointInfo.from_api(_item(static=["instance-2", "Instance-1"]))
    assert [info.allows(h) for h in (W, R2, R3)] == [True, True, False]


def test_excluded_members_leave_every_other_instance_in() -> None:
    info = CustomEndpointInfo.from_api(_item(excluded=["instance-3"]))
    assert [info.allows(h) for h in (W, R2, R3)] == [True, True, False]
    assert info.allows(HostInfo("instance-9.x", 5432, HostRole.READER))  # added later: a member


def test_a_reader_endpoint_never_includes_the_writer() -> None:
    info = CustomEndpointInfo.from_api(_item(static=["instance-1", "instance-2"], kind="READER"))
    assert [info.allows(h) for h in (W, R2, R3)] == [False, True, False]


def _monitor(fetch: Any, refresh: float = 0.05, idle: float = 60.0) -> EndpointMonitor:
    key = ("analytics.cluster-custom-x", "us-east-1", None)
    return monitors.attach(key, lambda: EndpointMonitor(key, "analytics", fetch, refresh, idle))


def test_the_monitor_publishes_members_and_wakes_waiting_connects() -> None:
    answers = [_item(static=["instance-2"]), _item(static=["instance-3"])]
    monitor = _monitor(lambda: answers[0])
    info = monitor.wait_for_info(10)
    assert info is not None and info.static_members == {"instance-2"}
    assert monitor.allows(R2) and not monitor.allows(R3)
    answers[0] = answers[1]  # the endpoint was modified
    deadline = time.monotonic() + 10
    while not monitor.allows(R3):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert not monitor.allows(R2)
    thread = monitor.runner.thread
    assert thread is not None and thread.daemon and thread.name == "sturdydb-custom-endpoint-analytics"
    sturdydb.release_resources()
    thread.join(5)
    assert not thread.is_alive()


def test_one_monitor_is_shared_by_every_connection_to_the_endpoint() -> None:
    calls: list[int] = []

    def fetch() -> dict[str, Any]:
        calls.append(1)
        return _item(static=["instance-2"])

    first, second = _monitor(fetch, refresh=30), _monitor(fetch, refresh=30)
    assert first is second
    assert first.wait_for_info(10) is not None
    assert len([t for t in threading.enumerate() if t.name == "sturdydb-custom-endpoint-analytics"]) == 1


def test_a_failing_api_keeps_no_members_and_says_why() -> None:
    def fetch() -> dict[str, Any]:
        raise PermissionError("AccessDenied: rds:DescribeDBClusterEndpoints")

    monitor = _monitor(fetch)
    assert monitor.wait_for_info(0.3) is None
    assert monitor.last_error is not None and "AccessDenied" in monitor.last_error
    assert monitor.allows(R3)  # nothing known: no restriction


def test_an_unknown_endpoint_is_reported_as_such() -> None:
    monitor = _monitor(lambda: None)
    assert monitor.wait_for_info(0.3) is None
    assert monitor.last_error is not None and "does not know the custom endpoint 'analytics'" in monitor.last_error


def test_an_idle_monitor_pauses_and_the_next_use_restarts_it() -> None:
    monitor = _monitor(lambda: _item(static=["instance-2"]), refresh=0.02, idle=0.1)
    assert monitor.wait_for_info(5) is not None
    thread = monitor.runner.thread
    assert thread is not None
    thread.join(5)
    assert not thread.is_alive()  # unused for longer than the expiration
    reads = monitor.reads
    monitor.use()
    deadline = time.monotonic() + 5
    while monitor.reads == reads:
        assert time.monotonic() < deadline
        time.sleep(0.02)
