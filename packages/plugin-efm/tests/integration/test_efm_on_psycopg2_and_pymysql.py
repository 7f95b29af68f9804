"""Enhanced failure monitoring through psycopg2 and PyMySQL on real clusters.

The monitor aborts a query on a frozen writer by shutting down the connection's socket; for
the two other drivers the socket comes from their own dialects (``conn.fileno()``,
PyMySQL's socket), so monitoring works with no warning and the application gets its driver's
own network error, as with psycopg 3 and mysql-connector.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from efm_scenarios import FAST, BackgroundCall, monitor_for, sleep_sql

import sturdydb
from sturdydb_testing import Cluster

pytestmark = pytest.mark.integration


def _other_driver(cluster: Cluster) -> Callable[..., Any]:
    if cluster.engine == "pg":
        import psycopg2

        return psycopg2.connect  # type: ignore[no-any-return]
    import pymysql

    return pymysql.connect  # type: ignore[no-any-return]


def test_a_frozen_writer_aborts_the_query_through_the_other_drivers(aurora_cluster: Cluster) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "cannot abort" warning, no unknown property
        conn = sturdydb.connect(_other_driver(aurora_cluster), **aurora_cluster.connect_kwargs("cluster"),
                                plugins="host_monitoring", autocommit=True, connect_timeout=3, **FAST)
    assert conn.context.driver.name == ("psycopg2" if aurora_cluster.engine == "pg" else "pymysql")
    writer = aurora_cluster.writer
    assert writer is not None
    call = BackgroundCall(conn, sleep_sql(aurora_cluster, 120))
    time.sleep(0.3)
    aurora_cluster.freeze(writer)
    try:
        call.wait(30)
    finally:
        aurora_cluster.thaw(writer)
    assert call.error is not None, "the call was not aborted"
    assert not isinstance(call.error, sturdydb.Error), f"sturdydb replaced the driver's error: {call.error!r}"
    assert isinstance(call.error, conn.context.driver.module.Error)
    assert conn.context.driver.is_network_error(call.error), repr(call.error)
    assert monitor_for(writer.host).detections == 1
    conn.close()
