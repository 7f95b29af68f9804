"""``postgresql+sturdydb_psycopg2://`` and ``mysql+sturdydb_pymysql://`` on the machine's servers.

The shared feature tests run on these dialects through the ``engine`` fixture; this module
covers what is particular to them: their registration, psycopg2's per-connection type casters
(registered in every physical connection, so a failover's replacement has them too), and a
failover that keeps the pooled connection (two names for the local server, so failover has
somewhere to go).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg2.extensions
import pymysql
import pytest
import sqlalchemy as sa
from local_servers import PG2_URL, PYMYSQL_URL

import sturdydb
from sturdydb_sqlalchemy import SturdyMariaDBPyMySQLDialect, SturdyPsycopg2Dialect, SturdyPyMySQLDialect


def test_the_dialects_are_registered_under_their_driver_names() -> None:
    assert sa.dialects.registry.load("postgresql.sturdydb_psycopg2") is SturdyPsycopg2Dialect
    assert sa.dialects.registry.load("mysql.sturdydb_pymysql") is SturdyPyMySQLDialect
    assert sa.dialects.registry.load("mariadb.sturdydb_pymysql") is SturdyMariaDBPyMySQLDialect
    for url, name, raw_class in ((PG2_URL, "psycopg2", psycopg2.extensions.connection),
                                 (PYMYSQL_URL, "pymysql", pymysql.connections.Connection)):
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            assert isinstance(dbapi, sturdydb.Connection) and dbapi.context.driver.name == name
            assert isinstance(conn.connection.driver_connection, raw_class)
        engine.dispose()


@pytest.fixture
def two_names() -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    names = (f"a-{tag}.local.test", f"b-{tag}.local.test")
    for name in names:
        sturdydb.map_host(name, "127.0.0.1")
    yield names
    for name in names:
        sturdydb.unmap_host(name)


def _failover_engine(url: str, names: tuple[str, str], **kwargs: object) -> sa.Engine:
    parsed = sa.make_url(url)
    return sa.create_engine(parsed.set(host=",".join(names)),
                            connect_args={"plugins": "failover", "failover_timeout_sec": 10}, **kwargs)


def test_psycopg2_type_casters_survive_a_failover(two_names: tuple[str, str]) -> None:
    # Autocommit: an interrupted read outside a transaction is "safe to run again" (08S02),
    # which keeps the pooled connection and its (replaced) physical connection.
    engine = _failover_engine(PG2_URL, two_names, json_deserializer=lambda s: {"decoded": s},
                              isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            before = conn.connection.driver_connection
            assert isinstance(conn.execute(sa.text("SELECT gen_random_uuid()")).scalar(), uuid.UUID)
            dbapi = conn.connection.dbapi_connection
            dbapi.context.driver.abort_connection(dbapi.target_connection)  # the host is gone
            with pytest.raises(sa.exc.OperationalError) as caught:
                conn.execute(sa.text("SELECT 1"))
            assert isinstance(caught.value.orig, sturdydb.FailoverSuccessError)
            assert not caught.value.connection_invalidated  # 08S02 keeps the pooled connection
            conn.rollback()
            after = conn.connection.driver_connection
            assert after is not before
            # The replacement physical connection has SQLAlchemy's casters too.
            assert isinstance(conn.execute(sa.text("SELECT gen_random_uuid()")).scalar(), uuid.UUID)
            assert conn.execute(sa.text("SELECT '{\"a\": 1}'::json")).scalar() == {"decoded": '{"a": 1}'}
    finally:
        engine.dispose()


def test_pymysql_pooled_connection_fails_over_and_is_kept(two_names: tuple[str, str]) -> None:
    engine = _failover_engine(PYMYSQL_URL, two_names, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            session = conn.execute(sa.text("SELECT CONNECTION_ID()")).scalar()
            dbapi = conn.connection.dbapi_connection
            dbapi.context.driver.abort_connection(dbapi.target_connection)
            with pytest.raises(sa.exc.OperationalError) as caught:
                conn.execute(sa.text("SELECT 1"))
            assert isinstance(caught.value.orig, sturdydb.FailoverSuccessError)
            assert not caught.value.connection_invalidated
            conn.rollback()
            assert conn.execute(sa.text("SELECT CONNECTION_ID()")).scalar() != session
            assert conn.connection.dbapi_connection is dbapi  # the same pooled sturdydb connection
    finally:
        engine.dispose()
