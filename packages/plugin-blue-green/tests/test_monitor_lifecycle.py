"""The status monitor: one per bg_id, a named daemon started lazily, polling, stopped on release."""

from __future__ import annotations

import threading
import time
from typing import Any

from bg_fakes import BLUE_CLUSTER, FakeDriver, resolve, rows

import sturdydb
from sturdydb import HostInfo
from sturdydb_blue_green import monitor as bg_monitor
from sturdydb_blue_green.monitor import StatusSource
from sturdydb_blue_green.settings import Settings
from sturdydb_blue_green.status import Phase

SETTINGS = Settings("life", 1.0, 60.0, 0.05, 0.01, 1.0, False, ())


class _Cursor:
    def __init__(self, server: _Server) -> None:
        self.server = server

    def execute(self, sql: str) -> None:
        self.server.queries.append(sql)
        if "get_blue_green_fast_switchover_metadata" not in sql:
            raise LookupError("no such function")

    def fetchall(self) -> list[Any]:
        return rows(self.server.status)

    def close(self) -> None:
        pass


class _Server:
    def __init__(self) -> None:
        self.status = "AVAILABLE"
        self.queries: list[str] = []
        self.opened: list[str] = []

    def open(self, host: HostInfo) -> Any:
        self.opened.append(host.host)
        server = self

        class _Conn:
            def cursor(self) -> _Cursor:
                return _Cursor(server)

        return _Conn()


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sturdydb-bg-")]


def test_the_monitor_starts_lazily_polls_and_stops_at_release() -> None:
    assert not _threads()
    dep = bg_monitor.deployment("life")
    dep._resolve = resolve
    assert bg_monitor.deployment("life") is dep  # one per bg_id
    assert not _threads()  # nothing runs before a connection attaches
    server = _Server()
    dep.attach(StatusSource(server.open, FakeDriver(), HostInfo(BLUE_CLUSTER, 5432), 5.0), SETTINGS)  # type: ignore[arg-type]
    assert dep.wait_for_first_status(10)
    (thread,) = _threads()
    assert thread.name == "sturdydb-bg-life" and thread.daemon
    assert dep.phase is Phase.CREATED
    # The first read goes to the connection's host; later ones to one instance per side.
    assert server.opened[0] == BLUE_CLUSTER
    server.status = "SWITCHOVER_INITIATED"
    deadline = time.monotonic() + 10
    while dep.phase is not Phase.PREPARATION and time.monotonic() < deadline:
        time.sleep(0.01)
    assert dep.phase is Phase.PREPARATION
    assert {"127.0.1.3", "127.0.2.3"} <= set(server.opened)
    assert dep._interval() == SETTINGS.high_interval
    sturdydb.release_resources()
    thread.join(10)
    assert not thread.is_alive()
    assert bg_monitor.deployment("life") is not dep  # a later connect starts a fresh monitor
