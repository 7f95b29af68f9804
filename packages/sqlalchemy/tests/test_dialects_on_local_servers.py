"""The sturdydb dialects do what SQLAlchemy's own psycopg, psycopg2, mysql-connector and PyMySQL
dialects do, on the machine's servers, with every connection opened through sturdydb."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Generator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from local_servers import MYSQL_URL, PG_URL
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql as pg

import sturdydb
from sturdydb_sqlalchemy import SturdyMariaDBDialect, SturdyMySQLDialect, SturdyPGDialect, keep_the_pool


def test_dialects_are_registered_through_entry_points() -> None:
    assert sa.dialects.registry.load("postgresql.sturdydb") is SturdyPGDialect
    assert sa.dialects.registry.load("mysql.sturdydb") is SturdyMySQLDialect
    assert sa.dialects.registry.load("mariadb.sturdydb") is SturdyMariaDBDialect
    assert isinstance(sa.create_engine(PG_URL).dialect, SturdyPGDialect)


def test_dbapi_connections_are_sturdydb_connections(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        assert isinstance(dbapi, sturdydb.Connection)
        # driver_connection is the driver's current physical connection, looked up each time.
        assert conn.connection.driver_connection is dbapi.target_connection
        assert not isinstance(conn.connection.driver_connection, sturdydb.Connection)
        assert conn.execute(sa.text("SELECT 1 + 1")).scalar() == 2


def test_url_query_and_connect_args_become_sturdydb_properties(engine: sa.Engine) -> None:
    # SQLAlchemy removes ``plugins`` from every URL (its own engine plugins): ``sturdydb_plugins``.
    url = engine.url.update_query_dict({"sturdydb_plugins": "host_monitoring", "failure_detection_time_ms": "7000"})
    other = sa.create_engine(url, connect_args={"failure_detection_count": 5})
    try:
        with other.connect() as conn:
            ctx = conn.connection.dbapi_connection.context
            assert list(ctx.pipeline.codes) == ["host_monitoring"]
            assert ctx.props.get("failure_detection_time_ms") == 7000  # coerced from the URL's string
            assert ctx.props.get("failure_detection_count") == 5
    finally:
        other.dispose()


def test_profile_name_selects_a_profile(engine: sa.Engine) -> None:
    sturdydb.register_profile("sa-test-profile", plugins="host_monitoring",
                              properties={"failure_detection_interval_ms": 1500})
    try:
        other = sa.create_engine(engine.url.update_query_dict({"profile_name": "sa-test-profile"}))
        with other.connect() as conn:
            ctx = conn.connection.dbapi_connection.context
            assert list(ctx.pipeline.codes) == ["host_monitoring"]
            assert ctx.props.get("failure_detection_interval_ms") == 1500
        other.dispose()
    finally:
        sturdydb.unregister_profile("sa-test-profile")


def test_a_bad_property_value_fails_with_sturdydbs_message(engine: sa.Engine) -> None:
    other = sa.create_engine(engine.url.update_query_dict({"failure_detection_time_ms": "soon"}))
    with pytest.raises(sturdydb.ConfigurationError, match="failure_detection_time_ms"):
        other.connect()


def test_an_unknown_property_is_named_with_a_hint(engine: sa.Engine) -> None:
    other = sa.create_engine(engine.url.update_query_dict({"failover_timeout_secs": "5"}))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        # The driver has the final say: psycopg and psycopg2 raise ProgrammingError (wrapped by
        # SQLAlchemy), mysql-connector AttributeError("Unsupported argument ..."), PyMySQL TypeError.
        with pytest.raises((sa.exc.DBAPIError, AttributeError, TypeError), match="failover_timeout_secs"):
            other.connect()
    messages = [str(w.message) for w in seen]
    assert any("failover_timeout_secs" in m and "failover_timeout_sec" in m for m in messages), messages


def test_creator_returning_a_sturdydb_connection_works_with_the_sturdydb_dialect() -> None:
    # The example, with postgresql+sturdydb:// instead of postgresql+psycopg://.
    engine = sa.create_engine("postgresql+sturdydb://", creator=lambda: sturdydb.connect(
        psycopg.Connection.connect, "host=127.0.0.1 dbname=test user=postgres", plugins="host_monitoring"))
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 42")).scalar() == 42
            assert isinstance(conn.connection.dbapi_connection, sturdydb.Connection)
    finally:
        engine.dispose()


def test_orm_round_trip(engine: sa.Engine, table_name: str) -> None:
    class Base(orm.DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = table_name
        id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
        name: orm.Mapped[str] = orm.mapped_column(sa.String(40))

    Base.metadata.create_all(engine)
    with orm.Session(engine) as session, session.begin():
        session.add_all([Item(name=f"n{i}") for i in range(10)])
    with orm.Session(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Item)) == 10
        first = session.scalars(sa.select(Item).order_by(Item.id)).first()
        assert first is not None and session.get(Item, first.id) is first


def test_insertmanyvalues_returns_every_row(engine: sa.Engine, table_name: str) -> None:
    meta = sa.MetaData()
    table = sa.Table(table_name, meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                     sa.Column("n", sa.Integer))
    meta.create_all(engine)
    rows = [{"n": i} for i in range(250)]
    with engine.begin() as conn:
        if engine.dialect.insert_executemany_returning:
            result = conn.execute(sa.insert(table).returning(table.c.id, table.c.n, sort_by_parameter_order=True), rows)
            got = result.all()
            assert [r.n for r in got] == list(range(250))
            assert len({r.id for r in got}) == 250
        else:
            conn.execute(sa.insert(table), rows)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 250
    assert engine.dialect.use_insertmanyvalues


@pytest.mark.parametrize("level", ["SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED"])
def test_isolation_levels(engine: sa.Engine, level: str) -> None:
    query = "SHOW transaction_isolation" if engine.dialect.name == "postgresql" else "SELECT @@tx_isolation"
    with engine.connect().execution_options(isolation_level=level) as conn:
        got = conn.execute(sa.text(query)).scalar()
        assert str(got).replace("-", " ").upper() == level
        assert conn.get_isolation_level() == level
    with engine.connect() as conn:  # back to the default once returned to the pool
        assert conn.get_isolation_level() == engine.dialect.default_isolation_level


def test_autocommit_isolation_level(engine: sa.Engine, table_name: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table_name} (id INT)"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        assert conn.connection.dbapi_connection.autocommit == True  # noqa: E712 (PyMySQL's is a callable switch)
        conn.execute(sa.text(f"INSERT INTO {table_name} VALUES (1)"))
        conn.rollback()  # nothing to roll back: the INSERT is committed already
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {table_name}")).scalar() == 1


def test_reflection(engine: sa.Engine, table_name: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table_name} (id INT PRIMARY KEY, label VARCHAR(20) NOT NULL)"))
        conn.execute(sa.text(f"CREATE INDEX ix_{table_name} ON {table_name} (label)"))
    inspector = sa.inspect(engine)
    assert table_name in inspector.get_table_names()
    columns = {c["name"]: c for c in inspector.get_columns(table_name)}
    assert set(columns) == {"id", "label"} and columns["label"]["nullable"] is False
    assert inspector.get_pk_constraint(table_name)["constrained_columns"] == ["id"]
    assert [i["column_names"] for i in inspector.get_indexes(table_name)] == [["label"]]
    reflected = sa.Table(table_name, sa.MetaData(), autoload_with=engine)
    assert [c.name for c in reflected.columns] == ["id", "label"]


def test_json_round_trip(engine: sa.Engine, table_name: str) -> None:
    meta = sa.MetaData()
    table = sa.Table(table_name, meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("doc", sa.JSON))
    meta.create_all(engine)
    doc = {"a": [1, 2, {"b": None}], "c": "é"}
    with engine.begin() as conn:
        conn.execute(sa.insert(table), [{"id": 1, "doc": doc}])
    with engine.connect() as conn:
        assert conn.execute(sa.select(table.c.doc)).scalar() == doc


# -- PostgreSQL specifics ---------------------------------------------------------------


def test_type_info_fetch_uses_the_physical_connection(pg_engine: sa.Engine) -> None:
    with pg_engine.connect() as conn:
        info = pg_engine.dialect._type_info_fetch(conn, "int4")
        assert info is not None and info.oid == 23


def test_hstore_is_registered_natively(pg_engine: sa.Engine) -> None:
    with pg_engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS hstore"))
    engine = sa.create_engine(pg_engine.url)  # a new engine: initialize() runs the hstore lookup
    try:
        with engine.connect() as conn:
            assert engine.dialect._has_native_hstore
            value = conn.execute(sa.select(sa.cast(sa.literal({"k": "v", "n": None}, pg.HSTORE), pg.HSTORE))).scalar()
            assert value == {"k": "v", "n": None}
    finally:
        engine.dispose()


def test_uuid_arrays_and_jsonb(pg_engine: sa.Engine) -> None:
    name = f"sa_{uuid.uuid4().hex[:10]}"
    meta = sa.MetaData()
    table = sa.Table(name, meta, sa.Column("id", sa.Uuid, primary_key=True),
                     sa.Column("tags", pg.ARRAY(sa.String)), sa.Column("doc", pg.JSONB))
    meta.create_all(pg_engine)
    try:
        key = uuid.uuid4()
        with pg_engine.begin() as conn:
            conn.execute(sa.insert(table), [{"id": key, "tags": ["a", "b"], "doc": {"x": 1}}])
        with pg_engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.doc["x"].as_integer() == 1)).one()
            assert row.id == key and row.tags == ["a", "b"] and row.doc == {"x": 1}
            assert conn.execute(sa.select(table.c.id).where(table.c.tags.contains(["b"]))).scalar() == key
    finally:
        meta.drop_all(pg_engine)


def test_stream_results_uses_a_server_side_cursor(pg_engine: sa.Engine) -> None:
    with pg_engine.connect() as conn:
        result = conn.execution_options(stream_results=True, max_row_buffer=100).execute(
            sa.text("SELECT g FROM generate_series(1, 5000) g"))
        raw = result.cursor.target_cursor  # type: ignore[attr-defined]
        assert isinstance(raw, psycopg.ServerCursor)
        assert sum(1 for _ in result) == 5000


def test_postgresql_readonly_and_deferrable(pg_engine: sa.Engine) -> None:
    with pg_engine.connect().execution_options(
        isolation_level="SERIALIZABLE", postgresql_readonly=True, postgresql_deferrable=True
    ) as conn:
        assert conn.execute(sa.text("SHOW transaction_read_only")).scalar() == "on"
        assert conn.execute(sa.text("SHOW transaction_deferrable")).scalar() == "on"
        with pytest.raises(sa.exc.InternalError, match="read-only"):
            conn.execute(sa.text("CREATE TEMP TABLE t_ro (i int)"))
        conn.rollback()
    with pg_engine.connect() as conn:  # reset when the connection went back to the pool
        assert conn.execute(sa.text("SHOW transaction_read_only")).scalar() == "off"
        assert conn.execute(sa.text("SHOW transaction_deferrable")).scalar() == "off"


@pytest.mark.parametrize(("dialect_cls", "variant"), [(SturdyPGDialect, "SturdyPGAsyncDialect"),
                                                     (SturdyMySQLDialect, "SturdyMySQLAsyncDialect"),
                                                     (SturdyMariaDBDialect, "SturdyMariaDBAsyncDialect")])
def test_async_engines_get_the_async_variant(dialect_cls: type, variant: str) -> None:
    # What create_async_engine() asks the dialect for (it needs greenlet to get that far).
    assert dialect_cls.get_async_dialect_cls(sa.make_url(PG_URL)).__name__ == variant


def test_mysql_url_opens_sturdydb_connections() -> None:
    engine = sa.create_engine(MYSQL_URL)
    try:
        with engine.connect() as conn:
            assert isinstance(conn.connection.dbapi_connection, sturdydb.Connection)
            assert engine.dialect.is_mariadb  # the machine's server is MariaDB
    finally:
        engine.dispose()


def test_pre_ping_goes_through_sturdydb(engine: sa.Engine) -> None:
    pinged = sa.create_engine(engine.url, pool_pre_ping=True, connect_args={"plugins": ""})
    try:
        with pinged.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            physical = dbapi.target_connection

        def driver_ping(*args: object) -> None:
            raise AssertionError("the driver's own ping() bypasses sturdydb's plugins")

        if hasattr(physical, "ping"):
            physical.ping = driver_ping  # mysql-connector: SQLAlchemy's dialect would call it
        assert pinged.dialect.do_ping(dbapi) is True
        with pinged.connect() as conn:  # the checkout pre-pings, then the statement runs
            assert conn.execute(sa.text("SELECT 7")).scalar() == 7
    finally:
        pinged.dispose()


class _OutcomeUnknown(sturdydb.Plugin):
    """Fails a marked statement with a failover outcome, as failover would after a writer died."""

    code = "t_outcome"

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method == "Cursor.execute"

    @sturdydb.hookimpl(wrapper=True)
    def sturdydb_execute(self, call: sturdydb.Call) -> Generator[None, Any, Any]:
        query = call.args[0]
        if isinstance(query, str) and "'unknown outcome'" in query:
            raise call.context.error(sturdydb.TransactionResolutionUnknownError, "the writer died mid-transaction")
        if isinstance(query, str) and "'no writer'" in query:
            raise call.context.error(sturdydb.FailoverFailedError, "no writer could be reached")
        return (yield)


@pytest.mark.parametrize(("marker", "pool_recycled"), [("unknown outcome", False), ("no writer", True)])
def test_an_unknown_outcome_invalidates_its_connection_not_the_pool(marker: str, pool_recycled: bool) -> None:
    # The other pooled connections failed over by themselves (or will at their next call):
    # recycling them all would make every worker reconnect after a failover.
    sturdydb.register_plugin(_OutcomeUnknown)
    engine = sa.create_engine(PG_URL, connect_args={"plugins": "t_outcome"}, pool_size=3)
    opened: list[object] = []
    sa.event.listen(engine, "connect", lambda dbapi, record: opened.append(dbapi))
    try:
        held = [engine.connect() for _ in range(3)]
        for conn in held:
            conn.execute(sa.text("SELECT 1"))
        # Installed with the engine, but SQLAlchemy runs dialect listeners only from the first
        # unknown outcome on: until then no statement pays a look at them.
        assert sa.event.contains(engine, "handle_error", keep_the_pool)
        assert engine.dialect._has_events is False
        with pytest.raises(sa.exc.OperationalError) as info:
            held[0].execute(sa.text(f"SELECT '{marker}'"))
        assert info.value.connection_invalidated
        assert engine.dialect._has_events is (marker == "unknown outcome")
        for conn in held:
            conn.close()
        assert len(opened) == 3
        held = [engine.connect() for _ in range(3)]
        for conn in held:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
            conn.close()
        # The failed connection is always replaced; the two others only when no writer was found.
        assert len(opened) == (6 if pool_recycled else 4)
    finally:
        engine.dispose()
        sturdydb.unregister_plugin("t_outcome")


class _AppError(Exception):
    pass


def test_keep_the_pool_runs_before_the_applications_own_error_listener() -> None:
    # A handle_error listener that raises its own exception stops the listeners after it
    # (SQLAlchemy's documented pattern): keep_the_pool must already have run by then.
    sturdydb.register_plugin(_OutcomeUnknown)
    engine = sa.create_engine(PG_URL, connect_args={"plugins": "t_outcome"}, pool_size=3)
    opened: list[object] = []
    sa.event.listen(engine, "connect", lambda dbapi, record: opened.append(dbapi))

    def app_listener(context: Any) -> None:
        raise _AppError("the application's own error")

    sa.event.listen(engine, "handle_error", app_listener)
    try:
        held = [engine.connect() for _ in range(3)]
        for conn in held:
            conn.execute(sa.text("SELECT 1"))
        with pytest.raises(_AppError):
            held[0].execute(sa.text("SELECT 'unknown outcome'"))
        for conn in held:
            conn.close()
        held = [engine.connect() for _ in range(3)]
        for conn in held:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
            conn.close()
        assert len(opened) == 4  # only the failed connection was replaced: the pool was kept
    finally:
        engine.dispose()
        sturdydb.unregister_plugin("t_outcome")


class _RollbackFailsOver(sturdydb.Plugin):
    """Fails every rollback over, as failover does for a pooled connection idle on a dead writer."""

    code = "t_rollback_failover"

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method == "Connection.rollback"

    @sturdydb.hookimpl(wrapper=True)
    def sturdydb_execute(self, call: sturdydb.Call) -> Generator[None, Any, Any]:
        yield
        raise call.context.error(sturdydb.FailoverSuccessError, "replaced by one to the new writer")


def test_a_rollback_that_failed_over_keeps_the_pooled_connection(caplog: pytest.LogCaptureFixture) -> None:
    # The pool rolls back each connection it takes back: after a failover that must neither log
    # an error nor discard the connection sturdydb has just moved to the new writer.
    sturdydb.register_plugin(_RollbackFailsOver)
    engine = sa.create_engine(PG_URL, connect_args={"plugins": "t_rollback_failover"}, pool_size=1)
    opened: list[object] = []
    sa.event.listen(engine, "connect", lambda dbapi, record: opened.append(dbapi))
    try:
        with caplog.at_level("INFO"):
            for _ in range(3):
                with engine.connect() as conn:
                    assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        assert len(opened) == 1
        assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
        assert "rollback failed over" in caplog.text
    finally:
        engine.dispose()
        sturdydb.unregister_plugin("t_rollback_failover")
