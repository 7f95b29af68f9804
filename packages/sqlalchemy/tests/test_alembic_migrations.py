"""Alembic migrations run through the sturdydb dialects (autogenerate's comparison and the
operations a migration script uses), on the machine's servers."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations


def test_operations_and_autogenerate(engine: sa.Engine, table_name: str) -> None:
    with engine.begin() as conn:
        ops = Operations(MigrationContext.configure(conn))
        ops.create_table(table_name, sa.Column("id", sa.Integer, primary_key=True),
                         sa.Column("name", sa.String(30), nullable=False))
        ops.add_column(table_name, sa.Column("email", sa.String(80)))
        ops.create_index(f"ix_{table_name}_email", table_name, ["email"])
    columns = {c["name"] for c in sa.inspect(engine).get_columns(table_name)}
    assert columns == {"id", "name", "email"}

    # Autogenerate compares the database with the model: one column missing, nothing else.
    wanted = sa.MetaData()
    sa.Table(table_name, wanted, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(30), nullable=False), sa.Column("email", sa.String(80), index=True),
             sa.Column("age", sa.Integer))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": lambda name, kind, parent: (
            kind != "table" or name == table_name)})
        diff = compare_metadata(context, wanted)
    added = [d for d in diff if d[0] == "add_column"]
    assert [(d[2], d[3].name) for d in added] == [(table_name, "age")], diff
