"""``mysql+sturdydb_async://`` and ``mariadb+sturdydb_async://``: SQLAlchemy's mysql-connector
dialect over :func:`sturdydb.connect_async` (``mysql.connector.aio``).

SQLAlchemy 2 ships no asyncio adaptation for ``mysql.connector.aio`` (its async MySQL
dialects are aiomysql and asyncmy), so this module provides the adapter itself, on
SQLAlchemy's public asyncio connector base classes (``sqlalchemy.connectors.asyncio``):
the sync mysql-connector dialect code runs unchanged and each driver call it makes is
awaited in the engine's greenlet. As in the sync dialect, cursors are buffered and there
are no server-side cursors (``stream_results`` reads a buffered result).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import util
from sqlalchemy.connectors.asyncio import (
    AsyncAdapt_dbapi_connection,
    AsyncAdapt_dbapi_cursor,
    AsyncAdapt_dbapi_module,
)
from sqlalchemy.dialects.mysql.mysqlconnector import (
    MariaDBDialect_mysqlconnector,
    MySQLDialect_mysqlconnector,
)
from sqlalchemy.util.concurrency import await_

from sturdydb_sqlalchemy._async_common import SturdyAsyncDialectMixin
from sturdydb_sqlalchemy._common import SturdyDialectMixin
from sturdydb_sqlalchemy.mysql import sturdydb_ping

__all__ = ["SturdyMariaDBAsyncDialect", "SturdyMySQLAsyncDialect", "dialect", "mariadb_dialect"]

#: The DB-API names the dialect reads from its ``dbapi`` module (mysql.connector's).
_DBAPI_NAMES = (
    "Warning", "Error", "InterfaceError", "DataError", "DatabaseError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    "NUMBER", "STRING", "DATETIME", "BINARY", "ROWID", "Binary", "paramstyle", "apilevel",
    "threadsafety", "__version__",
)


class AsyncAdapt_sturdydb_mysql_cursor(AsyncAdapt_dbapi_cursor):
    """A buffered ``mysql.connector.aio`` cursor, behind sturdydb's async cursor."""

    __slots__ = ()

    def _make_new_cursor(self, connection: Any) -> Any:
        return connection.cursor(buffered=True)


class AsyncAdapt_sturdydb_mysql_connection(AsyncAdapt_dbapi_connection):
    """The DB-API face of a :class:`sturdydb.AsyncConnection` over ``mysql.connector.aio``,
    as the sync mysql-connector dialect uses it."""

    __slots__ = ()

    _cursor_cls = AsyncAdapt_sturdydb_mysql_cursor

    def cursor(self, server_side: bool = False, **kwargs: Any) -> AsyncAdapt_dbapi_cursor:
        # The sync dialect asks for ``cursor(buffered=True)``; every cursor here is buffered
        # (no server-side cursors: supports_server_side_cursors is False, as in sync).
        return self._cursor_cls(self)

    @property
    def autocommit(self) -> bool:
        return bool(self._connection.autocommit)

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        await_(self._connection.set_autocommit(value))

    @property
    def charset(self) -> str:
        return str(self._connection.charset)

    def get_server_info(self) -> Any:
        return self._connection.get_server_info()

    def ping(self, reconnect: bool = False) -> None:
        await_(self._connection.ping(reconnect=reconnect))


class _SturdyMySQLAioDBAPI(AsyncAdapt_dbapi_module):
    """``mysql.connector``'s DB-API names (its exceptions are also the aio API's)."""

    def __init__(self) -> None:
        import mysql.connector
        import mysql.connector.aio

        super().__init__(mysql.connector.aio, dbapi_module=mysql.connector)
        for name in _DBAPI_NAMES:
            if hasattr(mysql.connector, name):
                setattr(self, name, getattr(mysql.connector, name))

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("connections of the sturdydb_async dialects are opened by the dialect "
                        "(sturdydb.connect_async), not by its dbapi module")


class _SturdyMySQLAsyncBase(SturdyAsyncDialectMixin, SturdyDialectMixin):
    """What the MySQL and MariaDB async variants share."""

    driver = "sturdydb_async"
    supports_statement_cache = True
    supports_server_side_cursors = False
    is_async = True
    _sturdydb_adapter = AsyncAdapt_sturdydb_mysql_connection

    @classmethod
    def import_dbapi(cls) -> Any:
        return _SturdyMySQLAioDBAPI()

    @classmethod
    def _sturdydb_async_target(cls) -> Callable[..., Any]:
        import mysql.connector.aio

        return mysql.connector.aio.connect

    def _sturdydb_ping(self, dbapi_connection: Any) -> bool:
        return sturdydb_ping(dbapi_connection)

    def create_connect_args(self, url: Any) -> Any:
        cargs, cparams = super().create_connect_args(url)
        # ``?ssl_disabled=true``: mysql.connector.aio (up to at least 9.x) fails to connect to
        # a server without TLS unless TLS is disabled explicitly, so the URL often carries it.
        util.coerce_kw_type(cparams, "ssl_disabled", bool)
        return cargs, cparams


class SturdyMySQLAsyncDialect(_SturdyMySQLAsyncBase, MySQLDialect_mysqlconnector):
    """MySQL and MariaDB through ``mysql.connector.aio`` and sturdydb (``mysql+sturdydb_async://``)."""

    supports_statement_cache = True  # SQLAlchemy reads it from each final class


class SturdyMariaDBAsyncDialect(_SturdyMySQLAsyncBase, MariaDBDialect_mysqlconnector):
    """MariaDB through ``mysql.connector.aio`` and sturdydb (``mariadb+sturdydb_async://``)."""

    supports_statement_cache = True


dialect = SturdyMySQLAsyncDialect
mariadb_dialect = SturdyMariaDBAsyncDialect
