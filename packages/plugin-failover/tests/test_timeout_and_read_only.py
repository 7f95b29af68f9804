"""``failover_timeout_sec=0`` makes exactly one attempt; the application's own read-only
transactions are not mistaken for a demoted writer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from local_servers import ENGINES, break_connection, table

import sturdydb

Open = Callable[..., sturdydb.Connection]


@pytest.mark.parametrize("mode", ["strict_writer", "reader_or_writer"])
def test_a_zero_failover_timeout_still_makes_one_attempt(open_conn: Open, mode: str) -> None:
    conn = open_conn(autocommit=True, failover_timeout_sec=0, failover_mode=mode)
    monitor = conn.context.plugin_state["failover"].monitor
    assert monitor is not None and monitor.wait_for_writer(10) is not None
    old = conn.target_connection
    cur = conn.cursor()
    break_connection(conn)
    with pytest.raises(sturdydb.FailoverSuccessError):
        cur.execute("SELECT 1")
    assert conn.target_connection is not old
    cur.execute("SELECT 4")
    assert cur.fetchall() == [(4,)]


def test_a_zero_failover_timeout_fails_after_one_attempt_when_nothing_answers(
    open_conn: Open, names: tuple[str, str],
) -> None:
    conn = open_conn(autocommit=True, failover_timeout_sec=0, connect_timeout=1)
    for name in names:
        sturdydb.map_host(name, "127.0.0.1", 9)
    cur = conn.cursor()
    break_connection(conn)
    with pytest.raises(sturdydb.FailoverFailedError, match="connect failed"):
        cur.execute("SELECT 1")


def test_a_read_only_transaction_the_application_opened_is_not_a_failover(
    open_conn: Open, engine: str, names: tuple[str, str],
) -> None:
    # Only the first name answers while the monitor starts, so the connection (on the first
    # name) is on the monitor's verified writer: the case where suspecting it costs most.
    sturdydb.map_host(names[1], "127.0.0.1", 9)
    conn = open_conn(autocommit=False, failover_mode="strict_writer")
    state = conn.context.plugin_state["failover"]
    monitor = state.monitor
    assert monitor is not None
    writer = monitor.wait_for_writer(10)
    assert writer is not None and writer.host == conn.context.host.host == names[0]
    sturdydb.map_host(names[1], "127.0.0.1", ENGINES[engine][1])
    name = table(conn)
    writer_conn = monitor._writer_conn
    probes = monitor.probe_connects
    old = conn.target_connection
    cur = conn.cursor()
    cur.execute("SET TRANSACTION READ ONLY" if engine == "pg" else "START TRANSACTION READ ONLY")
    with pytest.raises(Exception) as caught:
        cur.execute(f"INSERT INTO {name} VALUES (1, 'x')")
    assert not isinstance(caught.value, sturdydb.FailoverError)
    assert "read" in str(caught.value).lower()
    # The monitor kept its verified writer and its connection; no host was probed.
    assert monitor._writer_conn is writer_conn
    assert monitor.probe_connects == probes
    assert monitor.writer is not None
    assert conn.target_connection is old and state.failovers == 0
    conn.rollback()
    cur.execute(f"DROP TABLE {name}")
    conn.commit()
