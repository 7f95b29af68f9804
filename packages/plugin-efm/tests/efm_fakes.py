"""Fakes for the monitor's unit tests: a host whose health the test controls, and its driver.

``FakeHost`` plays a database host: healthy, slow (answers after a latency), frozen (accepts
connections and probes but never answers until the connection is aborted) or refusing. The
``FakeDriver`` records every ``abort_connection`` so a test can see which calls were aborted.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from sturdydb import HostInfo
from sturdydb_efm import CallSlot, DetectionRule, MonitorService
from sturdydb_efm.monitor import track


class FakeNetworkError(Exception):
    pass


class FakeServerError(Exception):
    pass


class FakeConn:
    def __init__(self, host: FakeHost) -> None:
        self.host = host
        self.aborted = threading.Event()
        self.closed = False


class FakeHost:
    def __init__(self, name: str = "db-1", connect_timeout: float = 2.0) -> None:
        self.info = HostInfo(name, 5432)
        self.state = "healthy"
        self.latency = 0.0
        self.connect_timeout = connect_timeout
        self.connects = 0
        self.probes = 0
        self.open_conns: list[FakeConn] = []

    def connect(self) -> FakeConn:
        self.connects += 1
        if self.state == "refusing":
            raise FakeNetworkError("connection refused")
        if self.state == "frozen":
            # The kernel accepts, the server never answers: the driver gives up after its timeout.
            time.sleep(self.connect_timeout)
            raise FakeNetworkError("connection timeout expired")
        if self.latency:
            time.sleep(self.latency)
        conn = FakeConn(self)
        self.open_conns.append(conn)
        return conn

    def answer(self, conn: FakeConn) -> None:
        self.probes += 1
        if conn.aborted.is_set():
            raise FakeNetworkError("connection already aborted")
        if self.state in ("frozen", "refusing"):
            if conn.aborted.wait(30):
                raise FakeNetworkError("server closed the connection")
            raise AssertionError("a probe on a frozen host was never aborted")
        if self.state == "rejecting":
            raise FakeServerError("too many connections")
        if self.latency:
            time.sleep(self.latency)


class FakeDriver:
    name = "fake"
    auxiliary_driver = "fake"  # monitors are keyed by the driver of their own connections
    module = SimpleNamespace(Error=FakeServerError)

    def __init__(self) -> None:
        self.aborted: list[Any] = []
        self.lock = threading.Lock()

    def abort_connection(self, conn: Any) -> None:
        with self.lock:
            self.aborted.append(conn)
        event = getattr(conn, "aborted", None)
        if event is not None:
            event.set()

    def is_network_error(self, exc: BaseException) -> bool:
        return isinstance(exc, FakeNetworkError)

    def close_quietly(self, conn: Any) -> None:
        conn.closed = True

    def socket_fd(self, conn: Any) -> int:
        return 3


class FakeContext:
    """What a CallSlot needs from a ConnectionContext (it is weakly referenced)."""

    def __init__(self, driver: FakeDriver) -> None:
        self.driver = driver


def opener(context: Any, host: HostInfo, rule: DetectionRule, props: dict[str, Any]) -> FakeConn:
    return context.fake_host.connect()  # type: ignore[no-any-return]


def prober(driver: Any, conn: FakeConn) -> None:
    conn.host.answer(conn)


def rule(grace: float = 0.2, interval: float = 0.2, count: int = 2, disposal: float = 60.0) -> DetectionRule:
    return DetectionRule(enabled=True, grace=grace, interval=interval, count=count,
                         disposal=disposal, probe_timeout=interval / 2)


class Harness:
    """A private MonitorService plus helpers to create connections and calls."""

    def __init__(self, host: FakeHost | None = None) -> None:
        self.host = host or FakeHost()
        self.driver = FakeDriver()
        self.service = track(MonitorService(opener=opener, prober=prober))
        self.contexts: list[FakeContext] = []

    def slot(self, r: DetectionRule | None = None, props: dict[str, Any] | None = None,
             host: FakeHost | None = None) -> CallSlot:
        fake_host = host or self.host
        ctx = FakeContext(self.driver)
        ctx.fake_host = fake_host  # type: ignore[attr-defined]
        self.contexts.append(ctx)
        app_conn = FakeConn(fake_host)
        s = CallSlot(ctx, app_conn, fake_host.info, r or rule(), props or {})  # type: ignore[arg-type]
        self.service.attach(s)
        return s

    @staticmethod
    def begin(slot: CallSlot) -> float:
        started = time.monotonic()
        slot.started = started
        return started

    @staticmethod
    def end(slot: CallSlot) -> None:
        slot.started = -abs(slot.started)

    def aborted(self, slot: CallSlot) -> bool:
        return slot.conn in self.driver.aborted

    def wait_aborted(self, slot: CallSlot, timeout: float = 10.0) -> float | None:
        """Seconds until ``slot``'s connection was aborted (None: not within ``timeout``)."""
        began = time.monotonic()
        if slot.conn.aborted.wait(timeout):
            return time.monotonic() - began
        return None

    def close(self) -> None:
        self.service.release()
