"""Helpers for the monitoring scenarios: connections, calls on helper threads, monitor stats."""

from __future__ import annotations

import threading
import time
from typing import Any

import sturdydb
from sturdydb_efm import HostMonitor, service
from sturdydb_testing import Cluster, Instance
from sturdydb_testing.drivers import DEFAULT_DRIVERS, Driver

#: Probe after 1 s, every 500 ms (250 ms to answer), unhealthy after 2 failed probes: the rule's
#: worst case is 1.75 s from the start of a call to a host that is already silent.
FAST = {"failure_detection_time_ms": 1000, "failure_detection_interval_ms": 500, "failure_detection_count": 2}


def connect(cluster: Cluster, host: Instance | str | None = "cluster", *, driver: Driver | None = None,
            **props: Any) -> sturdydb.Connection:
    """A monitored connection (default: through the cluster endpoint), autocommit, through
    ``driver`` (default: the engine's default driver; mysql-connector in its pure-Python mode,
    because the C extension hides its socket, so it cannot be aborted)."""
    driver = driver or DEFAULT_DRIVERS[cluster.engine]
    options: dict[str, Any] = {"plugins": "host_monitoring", "autocommit": True, "connect_timeout": 3, **FAST,
                               **driver.options, **props}
    conn = sturdydb.connect(driver.connect, **cluster.connect_kwargs(host), **options)
    assert conn.context.driver.name == driver.name
    return conn


def sleep_sql(cluster: Cluster, seconds: float) -> str:
    return f"SELECT pg_sleep({seconds})" if cluster.engine == "pg" else f"SELECT SLEEP({seconds})"


def instance_id(conn: sturdydb.Connection, cluster: Cluster) -> str:
    """The instance ``conn`` is on, by the cluster kind's own SQL (the detected dialect's)."""
    ctx = conn.context
    assert ctx.dialect.code == f"{cluster.kind}-{cluster.engine}"
    found = ctx.dialect.instance_id(ctx.driver, conn.target_connection)
    assert found is not None
    return found


class BackgroundCall:
    """One statement run on a helper thread; records its outcome and how long it took."""

    def __init__(self, conn: sturdydb.Connection, sql: str) -> None:
        self.conn = conn
        self.sql = sql
        self.error: BaseException | None = None
        self.rows: list[Any] | None = None
        self.started = 0.0
        self.ended = 0.0
        self._running = threading.Event()
        self.thread = threading.Thread(target=self._run, name="test-call", daemon=True)
        self.thread.start()
        self._running.wait(5)

    def _run(self) -> None:
        cur = self.conn.cursor()
        self.started = time.monotonic()
        self._running.set()
        try:
            cur.execute(self.sql)
            self.rows = cur.fetchall()
        except BaseException as exc:
            self.error = exc
        finally:
            self.ended = time.monotonic()

    def wait(self, timeout: float) -> BackgroundCall:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.sql} still blocked after {timeout} s"
        return self

    @property
    def elapsed(self) -> float:
        return self.ended - self.started


def monitor_for(host: str) -> HostMonitor:
    found = [m for m in service.monitors() if m.host.host == host]
    assert len(found) == 1, f"monitors: {service.monitors()}"
    return found[0]


def efm_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sturdydb-efm")]
