"""The framework recipes of docs/read-write-splitting.md, run as written on both engines:
SQLAlchemy sessions bound to a read-only engine variant (and PostgreSQL's own
``postgresql_readonly``), and a Django router with a read-only alias."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from rw_helpers import verify_writes
from sqlalchemy import event
from sqlalchemy.orm import Session

from sturdydb_testing import Cluster

PLUGINS = "read_write_splitting,failover"


def _where(cluster: Cluster) -> str:
    return "pg_catalog.aurora_db_instance_identifier()" if cluster.engine == "pg" else "@@aurora_server_id"


def _engine(cluster: Cluster) -> sa.Engine:
    kw = cluster.connect_kwargs()
    scheme = "postgresql+sturdydb" if cluster.engine == "pg" else "mysql+sturdydb"
    url = sa.URL.create(scheme, username=kw["user"], password=kw["password"], host=kw["host"],
                        port=kw["port"], database=cluster.dbname)
    connect_args: dict[str, Any] = {"plugins": PLUGINS, "read_write_pools": True, "connect_timeout": 3}
    if cluster.engine == "mysql":
        connect_args["use_pure"] = True
    return sa.create_engine(url, connect_args=connect_args)


def test_sqlalchemy_sessions_bound_to_a_read_only_engine_read_on_readers(aurora_cluster: Cluster) -> None:
    writer = aurora_cluster.writer
    assert writer is not None
    readers = {r.name for r in aurora_cluster.readers}
    engine = _engine(aurora_cluster)

    # -- the recipe, as documented ---------------------------------------------------------
    @event.listens_for(engine, "begin")
    def _route_transaction(conn: sa.Connection) -> None:
        read_only = bool(conn.get_execution_options().get("sturdydb_read_only", False))
        conn.connection.dbapi_connection.read_only = read_only  # type: ignore[union-attr]

    reader = engine.execution_options(sturdydb_read_only=True)
    # ------------------------------------------------------------------------------------------
    table = f"rw_sa_{uuid.uuid4().hex[:8]}"
    where = sa.text(f"SELECT {_where(aurora_cluster)}")
    try:
        with Session(engine) as session, session.begin():
            session.execute(sa.text(f"CREATE TABLE {table} (id INT NOT NULL, written_on VARCHAR(80))"))
        for i in range(1, 4):
            with Session(reader) as session:
                assert session.execute(where).scalar() in readers
                session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
            with Session(engine) as session, session.begin():
                assert session.execute(where).scalar() == writer.name
                session.execute(sa.text(f"INSERT INTO {table} (id, written_on) VALUES (:i, {_where(aurora_cluster)})"),
                                {"i": i})
    finally:
        engine.dispose()
    verify_writes(aurora_cluster, table, [1, 2, 3], {writer.name})


def test_sqlalchemy_postgresql_readonly_reads_on_a_reader(pg_cluster: Cluster) -> None:
    writer = pg_cluster.writer
    assert writer is not None
    engine = _engine(pg_cluster)
    where = sa.text(f"SELECT {_where(pg_cluster)}")
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(postgresql_readonly=True)
            assert conn.execute(where).scalar() in {r.name for r in pg_cluster.readers}
            conn.rollback()
        with engine.connect() as conn:  # reset when it went back to the pool: on the writer again
            assert conn.execute(where).scalar() == writer.name
    finally:
        engine.dispose()


def test_a_django_router_sends_reads_to_a_reader_alias(aurora_cluster: Cluster) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(DATABASES={}, INSTALLED_APPS=[], USE_TZ=True, TIME_ZONE="UTC", DEBUG=False)
        django.setup()
    from django.db import connections
    from django.db.backends.signals import connection_created

    kw = aurora_cluster.connect_kwargs()
    engine = "sturdydb_django.postgresql" if aurora_cluster.engine == "pg" else "sturdydb_django.mysql"
    options: dict[str, Any] = {"plugins": PLUGINS, "read_write_pools": True}
    if aurora_cluster.engine == "pg":
        options["options"] = "-c TimeZone=UTC"
    else:
        options["use_pure"] = True
    primary = {"ENGINE": engine, "HOST": kw["host"], "PORT": kw["port"], "USER": kw["user"],
               "PASSWORD": kw["password"], "NAME": aurora_cluster.dbname, "OPTIONS": options}
    tag = uuid.uuid4().hex[:6]
    default, reader_alias = f"rw_default_{tag}", f"rw_reader_{tag}"
    filled = connections.configure_settings({"default": {"ENGINE": "django.db.backends.dummy"},
                                             default: primary, reader_alias: dict(primary)})
    connections.settings[default] = filled[default]
    connections.settings[reader_alias] = filled[reader_alias]

    # -- the recipe, as documented (aliases renamed for the test) -------------------------------
    class ReadWriteRouter:
        def db_for_read(self, model: Any, **hints: Any) -> str:
            return reader_alias

        def db_for_write(self, model: Any, **hints: Any) -> str:
            return default

    def _reader_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
        if connection.alias == reader_alias:
            connection.connection.read_only = True

    connection_created.connect(_reader_connection)
    # ------------------------------------------------------------------------------------------
    router = ReadWriteRouter()
    writer = aurora_cluster.writer
    assert writer is not None
    try:
        reads = connections[router.db_for_read(None)]
        writes = connections[router.db_for_write(None)]
        with reads.cursor() as cur:
            cur.execute(f"SELECT {_where(aurora_cluster)}")
            assert cur.fetchone()[0] in {r.name for r in aurora_cluster.readers}
        with writes.cursor() as cur:
            cur.execute(f"SELECT {_where(aurora_cluster)}")
            assert cur.fetchone()[0] == writer.name
        if aurora_cluster.engine == "pg":
            with reads.cursor() as cur:  # Django's session time zone is on the reader too
                cur.execute("SELECT current_setting('TimeZone')")
                assert cur.fetchone()[0] == "UTC"
    finally:
        connection_created.disconnect(_reader_connection)
        for alias in (default, reader_alias):
            connections[alias].close()
