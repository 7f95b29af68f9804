"""connect_time and execute_time on the machine's own servers: log lines at the configured
level, process-wide and per-connection totals, nothing logged when off."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import mysql.connector
import psycopg
import pytest

import sturdydb
import sturdydb_timing
from sturdydb_timing import connect_times, execute_times, timings

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"
MYSQL: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test",
                         "use_pure": True}


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    sturdydb.reset_process_state()
    yield
    sturdydb.reset_process_state()


def _connect(engine: str, **props: Any) -> sturdydb.Connection:
    if engine == "pg":
        return sturdydb.connect(psycopg.Connection.connect, PG, **props)
    return sturdydb.connect(mysql.connector.connect, **{**MYSQL, **props})


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_both_plugins_time_their_work_and_expose_the_totals(engine: str) -> None:
    assert connect_times.snapshot().count == 0 and execute_times.snapshot().count == 0  # reset by the fixture
    conn = _connect(engine, plugins="connect_time,execute_time", autocommit=True)
    assert conn.context.pipeline.codes == ("execute_time", "connect_time")  # weights 50, 55
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    cur.execute("SELECT 2")
    cur.fetchall()
    mine = timings(conn)
    conn.close()
    assert mine["connect"].count == 1 and mine["connect"].total_s > 0
    assert mine["connect"].max_s == mine["connect"].last_s == mine["connect"].total_s
    assert mine["execute"].count >= 2  # two executes (mysql-connector's fetches read the network too)
    assert 0 < mine["execute"].mean_s <= mine["execute"].max_s
    assert connect_times.snapshot().count == 1
    assert execute_times.snapshot() == mine["execute"]


def test_a_plugin_not_in_the_chain_has_no_figures() -> None:
    with _connect("pg", plugins="connect_time") as conn:
        assert set(timings(conn)) == {"connect"}


def test_lines_are_logged_at_the_configured_level_without_statement_text(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sturdydb")
    with _connect("pg", plugins="connect_time,execute_time", connect_time_log_level="info",
                  execute_time_log_level="warning") as conn:
        conn.cursor().execute("SELECT 'a-literal-7'")
    connect = [r for r in caplog.records if r.name == "sturdydb.connect_time"]
    execute = [r for r in caplog.records if r.name == "sturdydb.execute_time"]
    assert [r.levelno for r in connect] == [logging.INFO]
    assert connect[0].getMessage().startswith("connect to 127.0.0.1:5432 took ")
    assert connect[0].sturdydb_host == "127.0.0.1:5432"  # type: ignore[attr-defined]
    assert execute and all(r.levelno == logging.WARNING for r in execute)
    assert execute[0].sturdydb_method == "Cursor.execute"  # type: ignore[attr-defined]
    assert execute[0].sturdydb_elapsed_ms > 0  # type: ignore[attr-defined]
    assert not any("a-literal-7" in r.getMessage() for r in caplog.records)


def test_off_logs_nothing_but_still_counts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sturdydb")
    with _connect("pg", plugins="connect_time,execute_time", connect_time_log_level="off",
                  execute_time_log_level="OFF") as conn:
        conn.cursor().execute("SELECT 1")
        assert timings(conn)["execute"].count == 1
    assert not [r for r in caplog.records if r.name in ("sturdydb.connect_time", "sturdydb.execute_time")]


def test_the_default_level_is_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sturdydb")
    with _connect("pg", plugins="execute_time") as conn:
        conn.cursor().execute("SELECT 1")
    assert {r.levelno for r in caplog.records if r.name == "sturdydb.execute_time"} == {logging.DEBUG}


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(sturdydb.ConfigurationError, match="execute_time_log_level"):
        _connect("pg", plugins="execute_time", execute_time_log_level="loud")


def test_failed_calls_are_timed_too() -> None:
    with _connect("pg", plugins="execute_time", autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.cursor().execute("SELECT * FROM timing_no_such_table")
        assert timings(conn)["execute"].count == 1


def test_reset_clears_the_process_totals() -> None:
    with _connect("pg", plugins="connect_time"):
        pass
    assert sturdydb_timing.connect_times.snapshot().count == 1
    sturdydb_timing.connect_times.reset()
    assert sturdydb_timing.connect_times.snapshot().count == 0
