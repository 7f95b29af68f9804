"""host_monitoring with read/write splitting (both engines): after switches back and forth
(which keep one monitoring registration per host), a read on a reader that freezes is still
aborted by monitoring and fails over to another reader; writes then reach the writer. Through
the four drivers (``every_driver``; mysql-connector in its pure-Python mode, whose socket the
abort shuts down)."""

from __future__ import annotations

import threading
from typing import Any

from rw_helpers import connect, insert, new_table, verify_writes, where

import sturdydb
from sturdydb_testing import Cluster
from sturdydb_testing.drivers import Driver
from sturdydb_testing.pytest_plugin import every_driver

FAST = {"failure_detection_time_ms": 1000, "failure_detection_interval_ms": 500, "failure_detection_count": 2}


@every_driver
def test_a_frozen_reader_under_a_read_is_detected_after_switches_and_replaced(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    readers = {r.name for r in aurora_cluster.readers}
    conn = connect(aurora_cluster, driver=dbapi_driver, plugins="read_write_splitting,failover,host_monitoring", **FAST)
    table = new_table(conn)
    for _ in range(3):  # every switch after the first reuses the registrations
        conn.read_only = True
        conn.read_only = False
    assert insert(conn, aurora_cluster, table, 1) == writer.name
    conn.read_only = True
    frozen = where(conn, aurora_cluster)
    assert frozen in readers
    sleep = "SELECT pg_sleep(120)" if aurora_cluster.engine == "pg" else "SELECT SLEEP(120)"
    outcome: dict[str, Any] = {}

    def read() -> None:
        try:
            conn.cursor().execute(sleep)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=read, name="rw-frozen-read", daemon=True)
    thread.start()
    try:
        aurora_cluster.freeze(frozen)
        thread.join(60)
        assert not thread.is_alive(), "monitoring never aborted the read on the frozen reader"
    finally:
        aurora_cluster.thaw(frozen)
    assert isinstance(outcome.get("error"), sturdydb.FailoverSuccessError), outcome
    assert where(conn, aurora_cluster) in readers - {frozen}
    conn.read_only = False
    assert insert(conn, aurora_cluster, table, 2) == writer.name
    conn.close()
    verify_writes(aurora_cluster, table, [1, 2], {writer.name})
