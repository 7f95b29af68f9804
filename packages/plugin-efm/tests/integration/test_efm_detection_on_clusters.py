"""Detection on real clusters, both engines (frozen, blackholed and killed writers through each
of the four drivers), outages before and after the grace time. The probe and frozen-writer cases
also run on RDS Multi-AZ DB clusters. The bounds only guard against hangs; detection times are
measured by ``benchmarks/detection.py``."""

from __future__ import annotations

import time
import warnings

import pytest
from efm_scenarios import BackgroundCall, connect, instance_id, monitor_for, sleep_sql

import sturdydb
from sturdydb_testing import Cluster
from sturdydb_testing.drivers import Driver
from sturdydb_testing.pytest_plugin import every_driver, every_driver_and_kind

pytestmark = pytest.mark.integration


def _assert_drivers_network_error(conn: sturdydb.Connection, error: BaseException | None) -> None:
    assert error is not None, "the call was not aborted"
    assert not isinstance(error, sturdydb.Error), f"sturdydb replaced the driver's error: {error!r}"
    assert isinstance(error, conn.context.driver.module.Error)  # the driver's own error
    assert conn.context.driver.is_network_error(error), f"not a network error: {error!r}"


@every_driver_and_kind
def test_the_monitor_probes_the_instance_behind_the_cluster_endpoint(rds_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(rds_cluster, driver=dbapi_driver)
    assert rds_cluster.writer is not None
    call = BackgroundCall(conn, sleep_sql(rds_cluster, 1.6)).wait(20)
    assert call.error is None
    monitor = monitor_for(rds_cluster.writer.host)
    assert monitor.probes >= 1
    assert instance_id(conn, rds_cluster) == rds_cluster.writer.name


@every_driver_and_kind
def test_a_writer_frozen_during_a_long_query_aborts_the_query(rds_cluster: Cluster, dbapi_driver: Driver) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "cannot abort" warning, no unknown property
        conn = connect(rds_cluster, driver=dbapi_driver)
    writer = rds_cluster.writer
    assert writer is not None
    call = BackgroundCall(conn, sleep_sql(rds_cluster, 120))
    time.sleep(0.3)
    rds_cluster.freeze(writer)
    try:
        call.wait(30)
    finally:
        rds_cluster.thaw(writer)
    _assert_drivers_network_error(conn, call.error)
    assert monitor_for(writer.host).detections == 1


@every_driver
def test_a_blackholed_writer_aborts_the_query(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver)
    writer = aurora_cluster.writer
    assert writer is not None
    call = BackgroundCall(conn, sleep_sql(aurora_cluster, 120))
    time.sleep(0.3)
    aurora_cluster.blackhole(writer)
    try:
        call.wait(30)
    finally:
        aurora_cluster.restore(writer)
    _assert_drivers_network_error(conn, call.error)
    assert monitor_for(writer.host).detections == 1


@every_driver
def test_a_killed_writer_ends_the_query_with_the_drivers_error(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver)
    writer = aurora_cluster.writer
    assert writer is not None
    call = BackgroundCall(conn, sleep_sql(aurora_cluster, 120))
    time.sleep(0.3)
    aurora_cluster.kill(writer)
    call.wait(30)
    _assert_drivers_network_error(conn, call.error)


@pytest.mark.parametrize("outage_after", [0.4, 2.2], ids=["before-grace", "after-grace"])
def test_an_outage_before_or_after_the_grace_time_is_detected(aurora_cluster: Cluster, outage_after: float) -> None:
    conn = connect(aurora_cluster)
    writer = aurora_cluster.writer
    assert writer is not None
    call = BackgroundCall(conn, sleep_sql(aurora_cluster, 120))
    time.sleep(max(0.0, call.started + outage_after - time.monotonic()))
    monitor = monitor_for(writer.host)
    answered_before = monitor.probes - monitor.failed_probes
    aurora_cluster.freeze(writer)
    frozen_at = time.monotonic()
    try:
        call.wait(30)
    finally:
        aurora_cluster.thaw(writer)
    _assert_drivers_network_error(conn, call.error)
    if outage_after > 1.0:
        assert answered_before >= 2, "probing was running and answered before the outage"
    else:
        assert answered_before == 0, "no probe before the grace time"
    # Never before the rule allows: the second failed probe is judged 250 ms after it is sent.
    rule = monitor.rule
    assert call.ended - frozen_at >= rule.probe_timeout - 0.05
    assert call.ended - call.started >= rule.grace + (rule.count - 1) * rule.interval
