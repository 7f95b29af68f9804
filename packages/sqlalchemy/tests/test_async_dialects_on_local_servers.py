"""The async sturdydb dialects (``create_async_engine``) do what SQLAlchemy's own async psycopg
dialect does, on the machine's servers, for both engines, with every connection opened by
:func:`sturdydb.connect_async`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import mysql.connector.aio
import psycopg
import pytest
import sqlalchemy as sa
from local_servers import MYSQL_URL, PG_URL
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

import sturdydb
from sturdydb_sqlalchemy.mysql_async import SturdyMariaDBAsyncDialect, SturdyMySQLAsyncDialect
from sturdydb_sqlalchemy.postgresql_async import SturdyPGAsyncDialect

T = TypeVar("T")

PG_ASYNC_URL = PG_URL.replace("+sturdydb:", "+sturdydb_async:")
# mysql.connector.aio cannot connect to a server without TLS unless TLS is disabled.
MYSQL_ASYNC_URL = MYSQL_URL.replace("+sturdydb:", "+sturdydb_async:").replace("use_pure=true", "ssl_disabled=true")


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await factory()

    return asyncio.run(main())


@pytest.fixture(params=["pg", "mysql"])
def url(request: pytest.FixtureRequest) -> str:
    return PG_ASYNC_URL if request.param == "pg" else MYSQL_ASYNC_URL


def engine_for(url: str, **kw: Any) -> AsyncEngine:
    kw.setdefault("connect_args", {"plugins": "host_monitoring"})
    return create_async_engine(url, **kw)


@pytest.fixture
def table_name(url: str) -> Iterator[str]:
    name = f"sa_{uuid.uuid4().hex[:10]}"
    yield name

    async def drop() -> None:
        engine = engine_for(url)
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        await engine.dispose()

    run(drop)


def test_async_dialects_are_registered_through_entry_points() -> None:
    assert sa.dialects.registry.load("postgresql.sturdydb_async") is SturdyPGAsyncDialect
    assert sa.dialects.registry.load("mysql.sturdydb_async") is SturdyMySQLAsyncDialect
    assert sa.dialects.registry.load("mariadb.sturdydb_async") is SturdyMariaDBAsyncDialect
    # create_async_engine with the sync scheme picks the async variant.
    assert isinstance(create_async_engine(PG_URL).dialect, SturdyPGAsyncDialect)
    assert isinstance(create_async_engine(MYSQL_URL).dialect, SturdyMySQLAsyncDialect)


def test_dbapi_connections_are_sturdydb_async_connections(url: str) -> None:
    async def scenario() -> None:
        engine = engine_for(url)
        try:
            async with engine.connect() as conn:
                fairy = (await conn.get_raw_connection())
                wrapper = fairy.dbapi_connection._connection  # type: ignore[union-attr]
                assert isinstance(wrapper, sturdydb.AsyncConnection)
                # driver_connection: the driver's current physical connection, never the wrapper.
                assert fairy.driver_connection is wrapper.target_connection
                assert isinstance(fairy.driver_connection,
                                  (psycopg.AsyncConnection, mysql.connector.aio.MySQLConnection))
                assert (await conn.execute(sa.text("SELECT 1 + 1"))).scalar() == 2
        finally:
            await engine.dispose()

    run(scenario)


def test_url_query_and_connect_args_become_sturdydb_properties(url: str) -> None:
    async def scenario() -> None:
        u = sa.make_url(url).update_query_dict({"sturdydb_plugins": "host_monitoring",
                                                "failure_detection_time_ms": "7000"})
        engine = create_async_engine(u, connect_args={"failure_detection_count": 5})
        try:
            async with engine.connect() as conn:
                raw = await conn.get_raw_connection()
                ctx = raw.dbapi_connection._connection.context  # type: ignore[union-attr]
                assert list(ctx.pipeline.codes) == ["host_monitoring"]
                assert ctx.props.get("failure_detection_time_ms") == 7000
                assert ctx.props.get("failure_detection_count") == 5
        finally:
            await engine.dispose()

    run(scenario)


def test_a_bad_property_value_fails_with_sturdydbs_message(url: str) -> None:
    async def scenario() -> None:
        engine = create_async_engine(sa.make_url(url).update_query_dict({"failure_detection_time_ms": "soon"}))
        try:
            with pytest.raises(sturdydb.ConfigurationError, match="failure_detection_time_ms"):
                await engine.connect()
        finally:
            await engine.dispose()

    run(scenario)


def test_orm_round_trip_with_async_session(url: str, table_name: str) -> None:
    class Base(orm.DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = table_name
        id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
        name: orm.Mapped[str] = orm.mapped_column(sa.String(40))

    async def scenario() -> None:
        engine = engine_for(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            async with AsyncSession(engine) as session, session.begin():
                session.add_all([Item(name=f"n{i}") for i in range(10)])
            async with AsyncSession(engine) as session:
                assert await session.scalar(sa.select(sa.func.count()).select_from(Item)) == 10
                first = (await session.scalars(sa.select(Item).order_by(Item.id))).first()
                assert first is not None and await session.get(Item, first.id) is first
            async with AsyncSession(engine) as session:  # a rolled-back unit leaves nothing
                session.add(Item(name="gone"))
                await session.flush()
                await session.rollback()
                assert await session.scalar(sa.select(sa.func.count()).select_from(Item)) == 10
        finally:
            await engine.dispose()

    run(scenario)


def test_insertmanyvalues_returns_every_row(url: str, table_name: str) -> None:
    meta = sa.MetaData()
    table = sa.Table(table_name, meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                     sa.Column("n", sa.Integer))
    rows = [{"n": i} for i in range(250)]

    async def scenario() -> None:
        engine = engine_for(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(meta.create_all)
                if engine.dialect.insert_executemany_returning:
                    result = await conn.execute(
                        sa.insert(table).returning(table.c.id, table.c.n, sort_by_parameter_order=True), rows)
                    got = result.all()
                    assert [r.n for r in got] == list(range(250))
                    assert len({r.id for r in got}) == 250
                else:
                    await conn.execute(sa.insert(table), rows)
            async with engine.connect() as conn:
                assert (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar() == 250
            assert engine.dialect.use_insertmanyvalues
        finally:
            await engine.dispose()

    run(scenario)


@pytest.mark.parametrize("level", ["SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED"])
def test_isolation_levels(url: str, level: str) -> None:
    async def scenario() -> None:
        engine = engine_for(url)
        query = "SHOW transaction_isolation" if engine.dialect.name == "postgresql" else "SELECT @@tx_isolation"
        try:
            async with engine.connect() as plain:
                conn = await plain.execution_options(isolation_level=level)
                got = (await conn.execute(sa.text(query))).scalar()
                assert str(got).replace("-", " ").upper() == level
                assert await conn.get_isolation_level() == level
            async with engine.connect() as conn:  # back to the default once returned to the pool
                assert await conn.get_isolation_level() == engine.dialect.default_isolation_level
        finally:
            await engine.dispose()

    run(scenario)


def test_autocommit_isolation_level(url: str, table_name: str) -> None:
    async def scenario() -> None:
        engine = engine_for(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"CREATE TABLE {table_name} (id INT)"))
            async with engine.connect() as plain:
                conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
                raw = await conn.get_raw_connection()
                assert raw.dbapi_connection._connection.autocommit is True  # type: ignore[union-attr]
                await conn.execute(sa.text(f"INSERT INTO {table_name} VALUES (1)"))
                await conn.rollback()  # nothing to roll back: the INSERT is committed already
            async with engine.connect() as conn:
                assert (await conn.execute(sa.text(f"SELECT count(*) FROM {table_name}"))).scalar() == 1
        finally:
            await engine.dispose()

    run(scenario)


def test_reflection(url: str, table_name: str) -> None:
    def inspect(sync_conn: sa.Connection) -> None:
        inspector = sa.inspect(sync_conn)
        assert table_name in inspector.get_table_names()
        columns = {c["name"]: c for c in inspector.get_columns(table_name)}
        assert set(columns) == {"id", "label"} and columns["label"]["nullable"] is False
        assert inspector.get_pk_constraint(table_name)["constrained_columns"] == ["id"]
        assert [i["column_names"] for i in inspector.get_indexes(table_name)] == [["label"]]

    async def scenario() -> None:
        engine = engine_for(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"CREATE TABLE {table_name} (id INT PRIMARY KEY, label VARCHAR(20) NOT NULL)"))
                await conn.execute(sa.text(f"CREATE INDEX ix_{table_name} ON {table_name} (label)"))
            async with engine.connect() as conn:
                await conn.run_sync(inspect)
        finally:
            await engine.dispose()

    run(scenario)


def test_json_round_trip(url: str, table_name: str) -> None:
    meta = sa.MetaData()
    table = sa.Table(table_name, meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("doc", sa.JSON))
    doc = {"a": [1, 2, {"b": None}], "c": "é"}

    async def scenario() -> None:
        engine = engine_for(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(meta.create_all)
                await conn.execute(sa.insert(table), [{"id": 1, "doc": doc}])
            async with engine.connect() as conn:
                assert (await conn.execute(sa.select(table.c.doc))).scalar() == doc
        finally:
            await engine.dispose()

    run(scenario)


def test_pre_ping_goes_through_sturdydb(url: str) -> None:
    async def scenario() -> None:
        engine = create_async_engine(url, pool_pre_ping=True, connect_args={"plugins": ""})
        try:
            async with engine.connect() as conn:
                raw = await conn.get_raw_connection()
                physical = raw.driver_connection

            async def driver_ping(*args: object, **kwargs: object) -> None:
                raise AssertionError("the driver's own ping() bypasses sturdydb's plugins")

            if hasattr(physical, "ping"):
                physical.ping = driver_ping  # mysql.connector.aio: the sync dialect would call it
            async with engine.connect() as conn:  # the checkout pre-pings, then the statement runs
                assert (await conn.execute(sa.text("SELECT 7"))).scalar() == 7
        finally:
            await engine.dispose()

    run(scenario)


def test_async_creator_returning_a_sturdydb_connection() -> None:
    async def scenario() -> None:
        engine = create_async_engine("postgresql+sturdydb_async://", async_creator=lambda: sturdydb.connect_async(
            psycopg.AsyncConnection.connect, "host=127.0.0.1 dbname=test user=postgres", plugins="host_monitoring"))
        try:
            async with engine.connect() as conn:
                assert (await conn.execute(sa.text("SELECT 42"))).scalar() == 42
                raw = await conn.get_raw_connection()
                assert isinstance(raw.dbapi_connection._connection, sturdydb.AsyncConnection)  # type: ignore[union-attr]
        finally:
            await engine.dispose()

    run(scenario)


# -- PostgreSQL specifics ---------------------------------------------------------------


def test_hstore_uuid_arrays_and_jsonb() -> None:
    name = f"sa_{uuid.uuid4().hex[:10]}"
    meta = sa.MetaData()
    table = sa.Table(name, meta, sa.Column("id", sa.Uuid, primary_key=True),
                     sa.Column("tags", pg.ARRAY(sa.String)), sa.Column("doc", pg.JSONB),
                     sa.Column("kv", pg.HSTORE))
    key = uuid.uuid4()

    async def scenario() -> None:
        setup = engine_for(PG_ASYNC_URL)
        async with setup.begin() as conn:
            await conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS hstore"))
        await setup.dispose()
        engine = engine_for(PG_ASYNC_URL)  # a new engine: initialize() runs the hstore type-info lookup
        try:
            async with engine.begin() as conn:
                await conn.run_sync(meta.create_all)
                await conn.execute(sa.insert(table), [{"id": key, "tags": ["a", "b"], "doc": {"x": 1},
                                                       "kv": {"k": "v", "n": None}}])
            assert engine.dialect._has_native_hstore  # type: ignore[attr-defined]
            async with engine.connect() as conn:
                row = (await conn.execute(sa.select(table).where(table.c.doc["x"].as_integer() == 1))).one()
                assert row.id == key and row.tags == ["a", "b"] and row.doc == {"x": 1}
                assert row.kv == {"k": "v", "n": None}
                assert (await conn.execute(sa.select(table.c.id).where(table.c.tags.contains(["b"])))).scalar() == key
        finally:
            async with engine.begin() as conn:
                await conn.run_sync(meta.drop_all)
            await engine.dispose()

    run(scenario)


def test_stream_results_uses_a_server_side_cursor() -> None:
    async def scenario() -> None:
        engine = engine_for(PG_ASYNC_URL)
        try:
            async with engine.connect() as conn:
                result = await conn.stream(sa.text("SELECT g FROM generate_series(1, 5000) g"))
                raw = result._real_result.cursor._cursor.target_cursor  # type: ignore[attr-defined]
                assert isinstance(raw, psycopg.AsyncServerCursor)
                assert len([row async for row in result]) == 5000
        finally:
            await engine.dispose()

    run(scenario)


def test_postgresql_readonly_and_deferrable() -> None:
    async def scenario() -> None:
        engine = engine_for(PG_ASYNC_URL)
        try:
            async with engine.connect() as plain:
                conn = await plain.execution_options(
                    isolation_level="SERIALIZABLE", postgresql_readonly=True, postgresql_deferrable=True)
                assert (await conn.execute(sa.text("SHOW transaction_read_only"))).scalar() == "on"
                assert (await conn.execute(sa.text("SHOW transaction_deferrable"))).scalar() == "on"
                with pytest.raises(sa.exc.InternalError, match="read-only"):
                    await conn.execute(sa.text("CREATE TEMP TABLE t_ro (i int)"))
                await conn.rollback()
            async with engine.connect() as conn:  # reset when the connection went back to the pool
                assert (await conn.execute(sa.text("SHOW transaction_read_only"))).scalar() == "off"
                assert (await conn.execute(sa.text("SHOW transaction_deferrable"))).scalar() == "off"
        finally:
            await engine.dispose()

    run(scenario)


def test_a_cancelled_unit_of_work_leaves_a_usable_pool(url: str) -> None:
    # A timed-out call closes its sturdydb connection (half-used protocol state); SQLAlchemy
    # then discards it, and the next unit of work gets a fresh connection from the same pool.
    sleep = "SELECT pg_sleep(5)" if url.startswith("postgresql") else "SELECT SLEEP(5)"

    async def scenario() -> None:
        engine = engine_for(url, pool_size=1, max_overflow=0, pool_timeout=10)
        try:
            async with engine.connect() as conn:
                first = (await conn.get_raw_connection()).dbapi_connection._connection  # type: ignore[union-attr]

            async def slow() -> None:
                async with engine.connect() as conn:
                    await conn.execute(sa.text(sleep))

            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(slow(), 0.3)
            assert first.closed
            for _ in range(3):
                async with AsyncSession(engine) as session, session.begin():
                    assert (await session.execute(sa.text("SELECT 5"))).scalar() == 5
                    raw = await (await session.connection()).get_raw_connection()
                    assert raw.dbapi_connection._connection is not first  # type: ignore[union-attr]
        finally:
            await engine.dispose()

    run(scenario)


def test_alembic_operations_through_run_sync(url: str, table_name: str) -> None:
    # Alembic's async template: the migration runs in connection.run_sync().
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    def migrate(sync_conn: sa.Connection) -> None:
        ops = Operations(MigrationContext.configure(sync_conn))
        ops.create_table(table_name, sa.Column("id", sa.Integer, primary_key=True),
                         sa.Column("name", sa.String(30), nullable=False))
        ops.add_column(table_name, sa.Column("email", sa.String(80)))
        ops.create_index(f"ix_{table_name}_email", table_name, ["email"])

    def columns(sync_conn: sa.Connection) -> set[str]:
        return {c["name"] for c in sa.inspect(sync_conn).get_columns(table_name)}

    async def scenario() -> None:
        engine = engine_for(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(migrate)
            async with engine.connect() as conn:
                assert await conn.run_sync(columns) == {"id", "name", "email"}
        finally:
            await engine.dispose()

    run(scenario)
