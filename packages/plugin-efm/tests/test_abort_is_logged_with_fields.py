"""Host monitoring's abort line (WARNING on ``sturdydb.efm``) carries structured fields."""

from __future__ import annotations

import logging
import time

import psycopg
import pytest

import sturdydb
from sturdydb_testing.relay import Relay

FAST = {"failure_detection_time_ms": 300, "failure_detection_interval_ms": 200, "failure_detection_count": 2}


def test_abort_line_names_the_host_and_the_aborted_calls(pg_relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sturdydb.efm")
    conn = sturdydb.connect(psycopg.Connection.connect, f"host=127.0.0.1 port={pg_relay.port} dbname=test user=postgres",
                            autocommit=True, plugins="host_monitoring", **FAST)
    cur = conn.cursor()
    cur.execute("SELECT 1")
    pg_relay.pause()  # the host goes silent: the next call hangs until monitoring aborts it
    with pytest.raises(psycopg.OperationalError):
        cur.execute("SELECT pg_sleep(60)")
    deadline = time.monotonic() + 10
    while not [r for r in caplog.records if getattr(r, "sturdydb_event", None) == "monitoring_abort"]:
        assert time.monotonic() < deadline, "no abort line was logged"
        time.sleep(0.05)
    (record,) = [r for r in caplog.records if getattr(r, "sturdydb_event", None) == "monitoring_abort"]
    assert record.levelno == logging.WARNING
    assert record.sturdydb_host == f"127.0.0.1:{pg_relay.port}"  # type: ignore[attr-defined]
    assert record.sturdydb_aborted_calls == 1  # type: ignore[attr-defined]
    conn.close()
