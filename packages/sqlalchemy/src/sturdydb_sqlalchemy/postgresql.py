"""``postgresql+sturdydb://``: SQLAlchemy's psycopg 3 dialect with connections opened by sturdydb.

Everything the psycopg dialect does works unchanged (types, hstore/json/uuid/arrays, server-side
cursors for ``stream_results``, ``insertmanyvalues``, isolation levels, ``postgresql_readonly``,
reflection). Two places of the psycopg dialect need psycopg's own connection object rather than
a DB-API compatible one: the type-info lookup (``psycopg.TypeInfo.fetch`` accepts only a real
``psycopg.Connection``) and ``deferrable`` (an attribute sturdydb's connection does not
proxy). Both are given the *current* physical connection, looked up at the moment of the call,
because a failover replaces it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from sturdydb_sqlalchemy._common import SturdyDialectMixin, physical

__all__ = ["SturdyPGDialect", "dialect"]



class SturdyPGDialect(SturdyDialectMixin, PGDialect_psycopg):
    """PostgreSQL through psycopg 3 and sturdydb (``postgresql+sturdydb://``)."""

    driver = "sturdydb"
    supports_statement_cache = True

    @classmethod
    def _sturdydb_target(cls) -> Callable[..., Any]:
        import psycopg

        return psycopg.Connection.connect

    def _type_info_fetch(self, connection: Any, name: str) -> Any:
        from psycopg.types import TypeInfo

        return TypeInfo.fetch(physical(connection.connection.dbapi_connection), name)

    def set_deferrable(self, connection: Any, value: bool) -> None:
        # sturdydb's connection does not carry ``deferrable`` over a failover (it is a
        # per-transaction setting that SQLAlchemy sets before each transaction that asks for it).
        physical(connection).deferrable = value

    def get_deferrable(self, connection: Any) -> Any:
        return physical(connection).deferrable


dialect = SturdyPGDialect
