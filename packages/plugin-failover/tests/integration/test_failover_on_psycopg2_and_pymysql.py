"""Writer failover through psycopg2 and PyMySQL, on the real clusters of ``sturdydb-testing``.

The same scenario as ``test_writer_failover.py`` with the two other drivers (psycopg2 on the
PostgreSQL cluster, PyMySQL on the MariaDB one): the writer is killed, or frozen and found by
``socket_timeout``, while the application inserts rows in autocommit. The application gets the
documented error (never a bare driver error), its connection ends up on the promoted writer,
and no acknowledged write is lost and none is applied twice. Inside a transaction the error
is ``TransactionResolutionUnknownError`` and the session state (autocommit off) carries over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from scenario_helpers import (
    PLUGINS,
    BackgroundFault,
    assert_documented_write_error,
    fail_over,
    instance_id,
    new_table,
    not_applied_rows,
    verify_writes,
    write_until_failover,
)

import sturdydb
from sturdydb_testing import Cluster


def _other_driver(cluster: Cluster) -> Callable[..., Any]:
    if cluster.engine == "pg":
        import psycopg2

        return psycopg2.connect  # type: ignore[no-any-return]
    import pymysql

    return pymysql.connect  # type: ignore[no-any-return]


def _connect(cluster: Cluster, **props: Any) -> sturdydb.Connection:
    options: dict[str, Any] = {"plugins": PLUGINS, "failover_timeout_sec": 60, "connect_timeout": 3, **props}
    conn = sturdydb.connect(_other_driver(cluster), cluster.conninfo(None), **options)
    expected = "psycopg2" if cluster.engine == "pg" else "pymysql"
    assert conn.context.driver.name == expected  # never taken for psycopg 3 or mysql-connector
    return conn


@pytest.mark.parametrize("old_writer", ["kill", "freeze"])
def test_writer_failover_through_the_other_drivers(aurora_cluster: Cluster, old_writer: str) -> None:
    conn = _connect(aurora_cluster, autocommit=True, socket_timeout=1)
    table = new_table(conn)
    fault = BackgroundFault(aurora_cluster, old_writer=old_writer)
    committed, attempted, errors = write_until_failover(conn, table, fault)
    new = fault.new_writer()
    assert len(errors) == 1, errors
    err = errors[0]
    assert_documented_write_error(err, conn)
    assert isinstance(err, conn.context.driver.operational_error)
    cause = err.__cause__
    assert isinstance(cause, sturdydb.QueryTimeoutError) or conn.context.driver.is_network_error(cause)  # type: ignore[arg-type]
    assert aurora_cluster.writer is not None and aurora_cluster.writer.name == new.name
    assert instance_id(conn, aurora_cluster) == new.name
    assert conn.host.host == aurora_cluster.writer.host
    verify_writes(aurora_cluster, table, committed, attempted, not_applied_rows(errors))
    conn.close()


def test_failover_inside_a_transaction_through_the_other_drivers(aurora_cluster: Cluster) -> None:
    conn = _connect(aurora_cluster, autocommit=False)
    table = new_table(conn)
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {table} (id) VALUES (1)")
    conn.commit()
    cur.execute(f"INSERT INTO {table} (id) VALUES (2)")
    future = fail_over(aurora_cluster)
    with pytest.raises(sturdydb.TransactionResolutionUnknownError) as caught:
        cur.execute(f"INSERT INTO {table} (id) VALUES (3)")
    assert caught.value.sqlstate == "08007"
    assert isinstance(caught.value, conn.context.driver.operational_error)
    new = future.result(60)
    assert not conn.autocommit  # session state carried over
    cur.execute(f"INSERT INTO {table} (id) VALUES (2)")
    cur.execute(f"INSERT INTO {table} (id) VALUES (3)")
    conn.commit()
    assert instance_id(conn, aurora_cluster) == new.name
    verify_writes(aurora_cluster, table, [(0, 1), (0, 2), (0, 3)], {(0, i) for i in range(1, 4)})
    conn.close()
