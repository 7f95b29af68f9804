"""``postgresql+sturdydb_async://``: SQLAlchemy's async psycopg dialect over
:func:`sturdydb.connect_async` (``psycopg.AsyncConnection``).

SQLAlchemy's own adapter classes for psycopg are used as they are: they only await what the
connection and cursor offer, and sturdydb's async connection offers psycopg's interface. The
places that need psycopg's own object (the type-info lookup, hstore registration) get the
*current* physical connection (see :func:`~sturdydb_sqlalchemy._async_common.current_driver_connection`).

``create_async_engine("postgresql+sturdydb://...")`` picks this dialect as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects.postgresql.psycopg import AsyncAdapt_psycopg_connection, PGDialectAsync_psycopg
from sqlalchemy.util.concurrency import await_

from sturdydb_sqlalchemy._async_common import SturdyAsyncDialectMixin, current_driver_connection
from sturdydb_sqlalchemy._common import SturdyDialectMixin

__all__ = ["SturdyPGAsyncDialect", "dialect"]


class SturdyPGAsyncDialect(SturdyAsyncDialectMixin, SturdyDialectMixin, PGDialectAsync_psycopg):
    """PostgreSQL through psycopg's ``AsyncConnection`` and sturdydb (``postgresql+sturdydb_async://``)."""

    driver = "sturdydb_async"
    supports_statement_cache = True
    _sturdydb_adapter = AsyncAdapt_psycopg_connection

    @classmethod
    def _sturdydb_async_target(cls) -> Callable[..., Any]:
        import psycopg

        return psycopg.AsyncConnection.connect

    def _type_info_fetch(self, connection: Any, name: str) -> Any:
        from psycopg.types import TypeInfo

        return await_(TypeInfo.fetch(current_driver_connection(connection.connection.dbapi_connection), name))

    def set_deferrable(self, connection: Any, value: bool) -> None:
        # Not carried over a failover (SQLAlchemy sets it before each transaction that asks).
        await_(current_driver_connection(connection).set_deferrable(value))

    def get_deferrable(self, connection: Any) -> Any:
        return current_driver_connection(connection).deferrable


dialect = SturdyPGAsyncDialect
