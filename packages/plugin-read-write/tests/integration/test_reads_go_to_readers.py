"""read_only moves the work to a reader and back to the writer (checked by the instance id
each statement reports), refuses to move inside a transaction, and leaves reads on the writer
when no reader answers.

Every scenario runs through each of the four drivers (``every_driver``)."""

from __future__ import annotations

import importlib

import pytest
from rw_helpers import connect, insert, new_table, verify_writes, where

import sturdydb
from sturdydb_read_write import ReadWriteSplittingError
from sturdydb_testing import Cluster
from sturdydb_testing.drivers import Driver
from sturdydb_testing.pytest_plugin import every_driver


@every_driver
@pytest.mark.parametrize("plugins", [
    "read_write_splitting,failover",
    "read_write_splitting,aurora_connection_tracker,failover,host_monitoring",  # with the default chain
    "read_write_splitting",  # alone: the topology is read through the connection
])
def test_reads_go_to_a_reader_and_writes_to_the_writer(
    aurora_cluster: Cluster, dbapi_driver: Driver, plugins: str
) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    readers = {r.name for r in aurora_cluster.readers}
    conn = connect(aurora_cluster, driver=dbapi_driver, plugins=plugins)
    try:
        assert where(conn, aurora_cluster) == writer.name
        table = new_table(conn)
        acknowledged = []
        for i in range(1, 6):
            conn.read_only = True
            assert conn.read_only
            assert where(conn, aurora_cluster) in readers
            conn.read_only = False
            assert not conn.read_only
            assert insert(conn, aurora_cluster, table, i) == writer.name
            acknowledged.append(i)
        conn.read_only = True
        cur = conn.cursor()  # a cursor made on the reader follows the connection back
        conn.read_only = False
        cur.execute("SELECT 1")
        assert list(cur.fetchall()) == [(1,)]  # PyMySQL, like the raw driver, returns a tuple
        assert where(conn, aurora_cluster) == writer.name
    finally:
        conn.close()
    verify_writes(aurora_cluster, table, acknowledged, {writer.name})


@every_driver
def test_a_reader_session_refuses_writes(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=False)
    try:
        table = new_table(conn)
        conn.commit()
        conn.read_only = True
        with pytest.raises(driver_error(dbapi_driver)) as caught:
            conn.cursor().execute(f"INSERT INTO {table} (id) VALUES (1)")
        assert conn.context.driver.is_read_only_error(caught.value)
        conn.rollback()
        conn.read_only = False
        conn.cursor().execute(f"INSERT INTO {table} (id) VALUES (2)")
        conn.commit()
    finally:
        conn.close()


def driver_error(driver: Driver) -> type[BaseException]:
    """The DB-API ``Error`` of ``driver``'s module (sturdydb passes server errors through)."""
    return importlib.import_module(driver.module).Error  # type: ignore[no-any-return]


@every_driver
def test_switching_inside_a_transaction_is_refused(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=False)
    try:
        table = new_table(conn)
        conn.commit()
        assert insert(conn, aurora_cluster, table, 1) == writer.name  # the transaction is open
        with pytest.raises(ReadWriteSplittingError, match="inside a transaction") as caught:
            conn.read_only = True
        assert isinstance(caught.value, sturdydb.InterfaceError)
        assert not conn.read_only  # nothing changed
        conn.commit()
        assert where(conn, aurora_cluster) == writer.name
        conn.commit()
        conn.read_only = True
        assert where(conn, aurora_cluster) in {r.name for r in aurora_cluster.readers}
        conn.commit()
        cur = conn.cursor()
        cur.execute(f"SELECT count(*) FROM {table}")  # a read of a table opens a transaction
        cur.fetchall()
        with pytest.raises(ReadWriteSplittingError, match="Commit or roll back first"):
            conn.read_only = False
        conn.rollback()
        conn.read_only = False
        assert where(conn, aurora_cluster) == writer.name
        conn.commit()
    finally:
        conn.close()
    verify_writes(aurora_cluster, table, [1], {writer.name})


@every_driver
def test_the_writer_serves_reads_when_no_reader_answers(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    conn = connect(aurora_cluster, driver=dbapi_driver)
    try:
        where(conn, aurora_cluster)  # the topology is known from the connect
        for reader in list(aurora_cluster.readers):
            aurora_cluster.kill(reader)
        conn.read_only = True
        assert where(conn, aurora_cluster) == writer.name
        conn.read_only = False
        assert where(conn, aurora_cluster) == writer.name
    finally:
        conn.close()


#: Each PostgreSQL driver's own value for REPEATABLE READ (psycopg's IsolationLevel enum and
#: psycopg2's ISOLATION_LEVEL_* constants number the levels differently).
_PG_REPEATABLE_READ = {"psycopg": 3, "psycopg2": 2}
#: The isolation an autocommit statement then runs at, as with the raw driver: psycopg applies the
#: level only to the transactions it opens; psycopg2 sets the session's
#: default_transaction_isolation, which autocommit statements use too.
_PG_AUTOCOMMIT_ISOLATION = {"psycopg": "read committed", "psycopg2": "repeatable read"}


@every_driver
def test_session_state_follows_the_switch(aurora_cluster: Cluster, dbapi_driver: Driver) -> None:
    conn = connect(aurora_cluster, driver=dbapi_driver, autocommit=False)
    try:
        conn.autocommit = True
        if aurora_cluster.engine == "pg":
            conn.cursor().execute("SET search_path TO pg_catalog, public")
            conn.isolation_level = _PG_REPEATABLE_READ[dbapi_driver.name]
        else:
            conn.isolation_level = "SERIALIZABLE"
        conn.read_only = True
        assert conn.autocommit
        cur = conn.cursor()
        if aurora_cluster.engine == "pg":
            cur.execute("SELECT current_setting('search_path'), current_setting('transaction_isolation')")
            assert cur.fetchone() == ("pg_catalog, public", _PG_AUTOCOMMIT_ISOLATION[dbapi_driver.name])
            conn.autocommit = False
            cur.execute("SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')")
            assert cur.fetchone() == ("repeatable read", "on")
            conn.rollback()
            conn.autocommit = True
        else:
            cur.execute("SELECT @@session.tx_isolation, @@session.tx_read_only, @@autocommit")
            assert cur.fetchone() == ("SERIALIZABLE", 1, 1)
        conn.read_only = False
        cur = conn.cursor()
        if aurora_cluster.engine == "pg":
            cur.execute("SELECT current_setting('search_path')")
            assert cur.fetchone() == ("pg_catalog, public",)
        else:
            cur.execute("SELECT @@session.tx_isolation, @@session.tx_read_only, @@autocommit")
            assert cur.fetchone() == ("SERIALIZABLE", 0, 1)
    finally:
        conn.close()


@every_driver
def test_a_connection_through_the_reader_endpoint_moves_to_the_writer_and_back(
    aurora_cluster: Cluster, dbapi_driver: Driver
) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    readers = {r.name for r in aurora_cluster.readers}
    conn = connect(aurora_cluster, "reader", driver=dbapi_driver)
    try:
        assert where(conn, aurora_cluster) in readers
        conn.read_only = True  # already on a reader: no switch
        assert where(conn, aurora_cluster) in readers
        conn.read_only = False
        assert where(conn, aurora_cluster) == writer.name
        conn.read_only = True
        assert where(conn, aurora_cluster) in readers
    finally:
        conn.close()
