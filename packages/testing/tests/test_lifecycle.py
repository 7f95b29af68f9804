"""Clusters start, stop and heal cleanly: no processes, folders, pins or address claims are left."""

from __future__ import annotations

import os
import threading

import pytest
from conftest import query, raw_connect

import sturdydb
from sturdydb_testing import Cluster, PostgresCluster
from sturdydb_testing.loopback import LOCK_DIR
from sturdydb_testing.proxy import ProxyLoop


def test_stop_leaves_nothing_behind() -> None:
    cluster = PostgresCluster(replicas=1, name="lifecycle")
    with cluster:
        pids = [i.pid for i in cluster.instances]
        scratch = cluster.scratch_path
        hosts = [i.host for i in cluster.instances] + [cluster.cluster_host, cluster.reader_host]
        addresses = [i.address for i in cluster.instances]
        assert all(sturdydb.resolve_host(h) is not None for h in hosts)
        assert scratch.is_dir()
        assert all(pid is not None and os.path.exists(f"/proc/{pid}") for pid in pids)
        if os.geteuid() == 0:
            # Servers run unprivileged even when the tests run as root.
            assert all(os.stat(f"/proc/{pid}").st_uid != 0 for pid in pids)
    assert not any(os.path.exists(f"/proc/{pid}") for pid in pids)
    assert not scratch.exists()
    assert all(sturdydb.resolve_host(h) is None for h in hosts)
    assert not any((LOCK_DIR / f"{a}.lock").exists() for a in addresses)


def test_the_proxies_share_one_named_daemon_thread(pg_cluster: Cluster) -> None:
    threads = [t for t in threading.enumerate() if t.name == ProxyLoop.THREAD_NAME]
    assert len(threads) == 1 and threads[0].daemon


def test_heal_rewires_a_replica_that_was_frozen_during_a_failover(aurora_cluster: Cluster) -> None:
    frozen, target = aurora_cluster.readers
    aurora_cluster.freeze(frozen)
    new = aurora_cluster.failover(target, promote_delay=0)
    assert new is target
    aurora_cluster.heal()
    assert all(i.running for i in aurora_cluster.instances)
    with raw_connect(aurora_cluster, new) as conn:
        query(conn, "CREATE TABLE heal_probe (v INT)")
        query(conn, "INSERT INTO heal_probe VALUES (3)")
    aurora_cluster.wait_for_replication(timeout=20)
    conn = raw_connect(aurora_cluster, frozen)
    try:
        assert query(conn, "SELECT v FROM heal_probe") == [(3,)]
    finally:
        conn.close()


def test_tests_using_an_engine_cluster_carry_its_marker(pg_cluster: Cluster, request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("pg") is not None
    assert request.node.get_closest_marker("mysql") is None
