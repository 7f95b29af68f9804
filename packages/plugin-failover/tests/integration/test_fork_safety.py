"""After ``os.fork()`` the child starts with fresh process state and leaves the parent's sockets alone.

The parent holds a failover connection (its topology monitor running, the connection tracker
remembering it, the topology registry and dialect cache filled, host monitoring attached) when
it forks. The child must see none of that state, must be able to connect and query on its
own, and the parent's connection must still be the same working session afterwards: had the
child closed, shut down or used an inherited socket, the parent's session would be gone.
"""

from __future__ import annotations

import json
import os
from typing import Any

from scenario_helpers import connect, instance_id

import sturdydb
from sturdydb import _pipeline as pipeline
from sturdydb import _selectors as selectors
from sturdydb._dialects import _cache as dialect_cache
from sturdydb._topology import registry
from sturdydb.plugin_api import watchdog
from sturdydb_efm import monitor as efm_monitor
from sturdydb_failover import tracker
from sturdydb_failover.monitor import monitors
from sturdydb_testing import Cluster

PLUGINS = "aurora_connection_tracker,failover,host_monitoring"


def _session_id(conn: sturdydb.Connection, cluster: Cluster) -> int:
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()" if cluster.engine == "pg" else "SELECT CONNECTION_ID()")
    row = cur.fetchone()
    cur.fetchall()
    return int(row[0])


def _process_state() -> dict[str, Any]:
    return {
        "tracked": sum(len(conns) for conns in tracker._tracker.by_host.values()),
        "failover_monitors": len(monitors.all()),
        "topology_listeners": sum(len(t.subscribers()) for t in registry.all()),
        "topologies": len(registry.all()),
        "pipelines": len(pipeline._pipelines),
        "dialect_cache": len(dialect_cache),
        "open_connections": len(selectors._open),
        "efm_monitors": len(efm_monitor.service._monitors),
        "watchdog_pending": watchdog.pending(),
        "watchdog_thread": watchdog._thread is not None,
    }


def _child(cluster: Cluster, report_fd: int) -> None:
    """Runs in the forked child; reports through ``report_fd`` and never returns."""
    result: dict[str, Any] = {}
    try:
        result["inherited"] = _process_state()
        own = connect(cluster, plugins=PLUGINS, socket_timeout=10, failure_detection_time_ms=1000)
        result["child_instance"] = instance_id(own, cluster)
        cur = own.cursor()
        cur.execute("SELECT 1")
        result["child_select"] = cur.fetchone()[0]
        cur.fetchall()
        result["child_monitors"] = len(monitors.all())
        own.close()
        sturdydb.release_resources()
        result["ok"] = True
    except BaseException as exc:  # reported to the parent, which fails the test
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        os.write(report_fd, json.dumps(result).encode())
        os.close(report_fd)
        os._exit(0)


def test_fork_child_starts_fresh_and_leaves_parent_sockets_alone(aurora_cluster: Cluster) -> None:
    cluster = aurora_cluster
    conn = connect(cluster, plugins=PLUGINS, socket_timeout=10, failure_detection_time_ms=1000)
    writer = instance_id(conn, cluster)
    session = _session_id(conn, cluster)
    before = _process_state()
    # The parent really has live state to inherit; otherwise the child's checks prove nothing.
    assert before["tracked"] >= 1 and before["failover_monitors"] >= 1 and before["topologies"] >= 1, before
    assert before["open_connections"] >= 1 and before["topology_listeners"] >= 1, before
    assert before["pipelines"] >= 1, before

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.close(read_fd)
        _child(cluster, write_fd)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    result = json.loads(b"".join(chunks))

    assert result.get("ok"), result
    assert result["inherited"] == {
        "tracked": 0, "failover_monitors": 0, "topology_listeners": 0, "topologies": 0, "pipelines": 0, "dialect_cache": 0, "open_connections": 0,
        "efm_monitors": 0, "watchdog_pending": 0, "watchdog_thread": False,
    }, result
    assert result["child_instance"] == writer
    assert result["child_select"] == 1
    assert result["child_monitors"] >= 1, "the child's own connection got its own topology monitor"

    # The parent's session is the very same one and still works: the child did not touch it.
    assert _session_id(conn, cluster) == session
    assert instance_id(conn, cluster) == writer
    assert len(monitors.all()) >= 1
    conn.close()
