"""A Blue/Green deployment: green replicates blue, the metadata shows every phase, the switchover
blocks blue, promotes green, swaps the names and moves DNS only after its delay."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from conftest import DRIVER_ERRORS, query, raw_connect

import sturdydb
from sturdydb_testing import BlueGreenDeployment, Cluster, Instance, MariaDBCluster, PostgresCluster

pytestmark = pytest.mark.timeout(300)


def _status_sql(cluster: Cluster) -> str:
    if cluster.engine == "pg":
        return ("SELECT version, endpoint, port, role, status FROM "
                "pg_catalog.get_blue_green_fast_switchover_metadata('aws_advanced_python_wrapper-3.0.0')")
    return "SELECT version, endpoint, port, role, status FROM mysql.rds_topology"


def _rows(cluster: Cluster, where: Instance | str) -> list[Any]:
    conn = raw_connect(cluster, where)
    try:
        return query(conn, _status_sql(cluster))
    finally:
        conn.close()


def _statuses(cluster: Cluster, where: Instance | str) -> set[str]:
    return {row[4] for row in _rows(cluster, where)}


@pytest.mark.parametrize("engine", [PostgresCluster, MariaDBCluster], ids=["pg", "mysql"])
def test_a_switchover_blocks_blue_promotes_green_renames_and_moves_dns_later(engine: Any) -> None:
    with BlueGreenDeployment(engine, replicas=1, dns_delay=2.0, preparation_time=0.5) as dep:
        blue, green = dep.blue, dep.green
        assert green is not None and blue.writer is not None and green.writer is not None
        # Green's names are RDS's: the cluster's and each instance's first label + -green-<suffix>.
        assert green.cluster_host.startswith(f"app-green-{dep.suffix}.cluster-{blue.cluster_hash}.")
        assert green.writer.host.startswith(f"instance-1-green-{dep.suffix}.{blue.cluster_hash}.")
        # Every instance of both sides reports both sides' endpoints as AVAILABLE.
        rows = _rows(green, green.readers[0])
        roles = {(row[1], row[3]) for row in rows}
        assert (blue.cluster_host, "BLUE_GREEN_DEPLOYMENT_SOURCE") in roles
        assert (green.cluster_host, "BLUE_GREEN_DEPLOYMENT_TARGET") in roles
        assert {row[0] for row in rows} == {"1.0"} and _statuses(blue, blue.readers[0]) == {"AVAILABLE"}
        # Green replicates blue.
        conn = raw_connect(blue, blue.writer)
        query(conn, "CREATE TABLE bg_probe (k varchar(20))")
        query(conn, "INSERT INTO bg_probe VALUES ('before')")
        conn.close()
        green._wait_replicated(blue.writer, [green.writer], 30)

        seen: set[str] = set()
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                try:
                    seen.update(_statuses(green, green.writer))
                except DRIVER_ERRORS:
                    pass  # the switchover drops connections
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, name="bg-status-watcher", daemon=True)
        watcher.start()
        times = dep.switchover()
        # The last phase is set as switchover() returns: give the watcher (a poll can take a
        # while on a loaded machine) time to read it; the completed status stays in place.
        deadline = time.monotonic() + 30
        while "SWITCHOVER_COMPLETED" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        watcher.join(10)
        assert {"SWITCHOVER_INITIATED", "SWITCHOVER_IN_PROGRESS", "SWITCHOVER_COMPLETED"} <= seen
        order = ["phase_preparation", "phase_in_progress", "blue_writes_blocked", "green_caught_up",
                 "green_promoted", "renamed", "phase_post", "phase_completed"]
        assert [times[k] for k in order] == sorted(times[k] for k in order)

        # Blue refuses writes; green takes them and has blue's data.
        conn = raw_connect(blue, blue.writer)
        with pytest.raises(DRIVER_ERRORS):
            query(conn, "INSERT INTO bg_probe VALUES ('on blue')")
        conn.close()
        conn = raw_connect(green, green.writer)
        query(conn, "INSERT INTO bg_probe VALUES ('on green')")
        assert sorted(r[0] for r in query(conn, "SELECT k FROM bg_probe")) == ["before", "on green"]
        conn.close()

        # The names were swapped in the metadata: blue's are -old1, green's are blue's.
        renamed = {(row[1], row[3]) for row in _rows(green, green.writer)}
        assert (dep.old_name(blue.cluster_host), "BLUE_GREEN_DEPLOYMENT_SOURCE") in renamed
        assert (blue.cluster_host, "BLUE_GREEN_DEPLOYMENT_TARGET") in renamed
        assert sturdydb.resolve_host(dep.old_name(blue.writer.host)) is not None

        # DNS follows only after its delay: blue's endpoint and instance name still lead to blue.
        assert blue.cluster_endpoint.targets == [blue.writer]
        assert sturdydb.resolve_host(blue.writer.host).address == blue.writer.address  # type: ignore[union-attr]
        deadline = time.monotonic() + 30
        while blue.cluster_endpoint.targets != [green.writer] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert blue.cluster_endpoint.targets == [green.writer]
        assert sturdydb.resolve_host(blue.writer.host).address == green.writer.address  # type: ignore[union-attr]
        assert dep.event("dns_switched").wall_time - times["phase_completed"] >= 2.0 - 0.1
