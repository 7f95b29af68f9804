"""A call past its ``socket_timeout`` on the writer makes the topology monitor check the writer.

In steady state the monitor polls the writer only every ``topology_refresh_ms``: between two
polls nothing it does notices a frozen writer. The first sign is the application's own call
passing its ``socket_timeout``: the core reports the host suspected (``sturdydb_host_suspected``)
before it sends the cancel, and the monitor doubts the writer, probing the other hosts at once.
Without that signal the connection would be given up only when the cancel went unanswered
(``auxiliary_query_timeout_sec``, 20 s here) and the monitor would learn the new writer then.

The monitor here is held in steady state by its two poll intervals: with both
``topology_refresh_ms`` and ``cluster_topology_high_refresh_rate_ms`` at a minute, the 30 s of
fast polling after it verified a writer poll no more often than steady state does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from scenario_helpers import (
    WRITE_ERRORS,
    BackgroundFault,
    assert_documented_write_error,
    connect,
    instance_id,
    new_table,
    not_applied_rows,
    verify_writes,
)

import sturdydb
from sturdydb_failover.monitor import TopologyMonitor
from sturdydb_testing import Cluster

#: The monitor polls the writer once a minute, whether or not it just verified it; its own
#: query on a frozen writer would hang for 20 s, and so would the application's cancel.
STEADY: dict[str, Any] = {"topology_refresh_ms": 60000, "cluster_topology_high_refresh_rate_ms": 60000,
                          "socket_timeout": 1, "auxiliary_query_timeout_sec": 20,
                          "topology-monitoring-socket_timeout": 20}


def _steady_connection(cluster: Cluster, name: str) -> tuple[sturdydb.Connection, TopologyMonitor]:
    conn = connect(cluster, autocommit=True, cluster_id=f"{name}-{time.monotonic_ns()}", **STEADY)
    monitor = conn.context.plugin_state["failover"].monitor
    assert isinstance(monitor, TopologyMonitor)
    assert monitor.wait_for_writer(10) is not None
    # The monitor reads the topology once right after it verified the writer (milliseconds);
    # after that it would not query the writer again for a minute.
    time.sleep(1.0)
    return conn, monitor


def _until(condition: Callable[[], Any], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_a_call_past_its_socket_timeout_on_a_frozen_writer_makes_the_monitor_find_the_new_writer(
    aurora_cluster: Cluster,
) -> None:
    conn, monitor = _steady_connection(aurora_cluster, "suspected-frozen")
    old = aurora_cluster.writer
    assert old is not None
    table = new_table(conn)
    learned: list[float] = []

    def on_change(topology: Any, changes: Any) -> None:
        writer = topology.writer
        if writer is not None and writer.host != old.host and not learned:
            learned.append(time.monotonic())

    conn.context.topology.add_listener(on_change)
    # Insert row after row; the fault (cut off, then frozen, then a replica promoted a second
    # later) hits while one is in flight.
    fault = BackgroundFault(aurora_cluster, old_writer="freeze")
    cur = conn.cursor()
    committed: list[tuple[int, int]] = []
    attempted: set[tuple[int, int]] = set()
    errors: list[BaseException] = []
    failed_at = 0.0
    deadline = time.monotonic() + 60
    i = 0
    while not errors:
        assert time.monotonic() < deadline, "no failover within 60 s"
        i += 1
        if i == 5:
            fault()
        attempted.add((0, i))
        try:
            cur.execute(f"INSERT INTO {table} (id, worker) VALUES (%s, %s)", (i, 0))
        except WRITE_ERRORS as exc:
            failed_at = time.monotonic()
            exc.row = (0, i)  # type: ignore[union-attr]
            errors.append(exc)
        else:
            committed.append((0, i))
    new = fault.new_writer()
    assert_documented_write_error(errors[0], conn)
    attempted.add((0, i + 1))
    cur.execute(f"INSERT INTO {table} (id, worker) VALUES (%s, %s)", (i + 1, 0))  # on the new writer
    committed.append((0, i + 1))
    assert instance_id(conn, aurora_cluster) == new.name
    assert conn.host.host == new.host
    assert learned, "the monitor never published the new writer"
    events = aurora_cluster.events
    cut_off = next(e.monotonic for e in reversed(events) if e.kind == "blackhole" and e.instance_name == old.name)
    promoted = next(e.monotonic for e in reversed(events) if e.kind == "promote" and e.instance_name == new.name)
    # Without the suspicion: socket_timeout (1 s) + the unanswered cancel (20 s) after the cut-off.
    assert learned[0] - cut_off < 10
    assert failed_at - cut_off < 10
    # One round of probes, started by the suspicion, found the new writer.
    assert (monitor.doubts, monitor.doubt_wins) == (1, 1)
    assert monitor.last_doubt_reason == "a call exceeded socket_timeout=1s"
    print(f"\n[{aurora_cluster.engine}] steady-state freeze: monitor learned the new writer "
          f"{learned[0] - promoted:+.3f} s after the promotion ({learned[0] - cut_off:.3f} s after the "
          f"cut-off); the application's call failed {failed_at - promoted:+.3f} s after the promotion")
    verify_writes(aurora_cluster, table, committed, attempted, not_applied_rows(errors), old_writer=old)
    conn.close()


def test_a_slow_call_on_a_healthy_writer_is_only_a_suspicion(aurora_cluster: Cluster) -> None:
    conn, monitor = _steady_connection(aurora_cluster, "suspected-healthy")
    state = conn.context.plugin_state["failover"]
    writer = monitor.writer
    hosts = conn.context.topology.hosts
    host = conn.host
    cur = conn.cursor()
    sleep = "SELECT pg_sleep(2)" if aurora_cluster.engine == "pg" else "SELECT SLEEP(2)"
    with pytest.raises(sturdydb.QueryTimeoutError) as caught:
        cur.execute(sleep)
        cur.fetchall()  # an unbuffered MySQL cursor waits for the row here
    assert caught.value.cancelled  # the healthy writer took the cancel: nothing fails over
    # The suspicion started one round of probes; the writer answered the monitor's query.
    _until(lambda: monitor.doubts_dismissed == 1, "the writer's answer did not end the doubt round")
    assert (monitor.doubts, monitor.doubt_wins) == (1, 0)
    assert monitor.last_doubt_reason == "a call exceeded socket_timeout=1s"
    assert monitor.writer == writer
    assert conn.context.topology.hosts == hosts
    assert state.failovers == 0
    assert conn.host == host
    cur.execute("SELECT 1")
    assert cur.fetchall() == [(1,)]
    conn.close()
