"""The failover start and end lines carry structured fields (``extra=``) an operator can search."""

from __future__ import annotations

import logging

import pytest
from scenario_helpers import connect, fail_over

import sturdydb
from sturdydb_testing import Cluster


def test_failover_start_and_end_lines_carry_hosts_outcome_and_duration(pg_cluster: Cluster,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sturdydb")
    old = pg_cluster.writer
    assert old is not None
    conn = connect(pg_cluster, autocommit=True)
    cur = conn.cursor()
    cur.execute("SELECT 1")
    old_url = conn.context.host.url
    future = fail_over(pg_cluster)
    with pytest.raises(sturdydb.FailoverSuccessError):
        while True:
            cur.execute("SELECT 1")
            cur.fetchall()
    future.result(timeout=60)
    new_url = conn.context.host.url
    conn.close()
    events = {getattr(r, "sturdydb_event", None): r for r in caplog.records if r.name == "sturdydb.failover"}
    start, end = events["failover_start"], events["failover_end"]
    assert start.levelno == logging.INFO and end.levelno == logging.INFO
    assert start.sturdydb_old_host == old_url  # type: ignore[attr-defined]
    assert start.sturdydb_mode == "strict_writer"  # type: ignore[attr-defined]
    assert start.sturdydb_cluster_id == end.sturdydb_cluster_id == conn.context.cluster_id  # type: ignore[attr-defined]
    assert end.sturdydb_outcome == "success"  # type: ignore[attr-defined]
    assert (end.sturdydb_old_host, end.sturdydb_new_host) == (old_url, new_url)  # type: ignore[attr-defined]
    assert end.sturdydb_duration_s > 0  # type: ignore[attr-defined]
    assert any(getattr(r, "sturdydb_event", None) == "topology_change" for r in caplog.records)
