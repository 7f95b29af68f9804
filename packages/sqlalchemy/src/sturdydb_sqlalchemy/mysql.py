"""``mysql+sturdydb://`` and ``mariadb+sturdydb://``: SQLAlchemy's mysql-connector dialect with
connections opened by sturdydb.

SQLAlchemy's own mysql-connector dialect does not use server-side cursors (a mysql-connector
limitation), so neither does this one: ``stream_results`` reads a buffered result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects.mysql.mysqlconnector import (
    MariaDBDialect_mysqlconnector,
    MySQLDialect_mysqlconnector,
)

from sturdydb_sqlalchemy._common import SturdyDialectMixin

__all__ = ["SturdyMariaDBDialect", "SturdyMySQLDialect", "dialect", "mariadb_dialect"]


def sturdydb_ping(dbapi_connection: Any) -> bool:
    """A ping that goes through sturdydb's plugins.

    SQLAlchemy's mysql-connector dialect calls the driver's ``ping()``, which sturdydb's
    connection passes straight to the driver: no ``socket_timeout``, no failover, so a ping of
    a frozen host would hang. A ``SELECT 1`` is a network-bound call like any other.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT 1")
        cursor.fetchall()
    finally:
        cursor.close()
    return True


class SturdyMySQLDialect(SturdyDialectMixin, MySQLDialect_mysqlconnector):
    """MySQL and MariaDB through mysql-connector and sturdydb (``mysql+sturdydb://``)."""

    driver = "sturdydb"
    supports_statement_cache = True

    def _sturdydb_ping(self, dbapi_connection: Any) -> bool:
        return sturdydb_ping(dbapi_connection)

    @classmethod
    def _sturdydb_target(cls) -> Callable[..., Any]:
        import mysql.connector

        return mysql.connector.connect


class SturdyMariaDBDialect(SturdyDialectMixin, MariaDBDialect_mysqlconnector):
    """MariaDB through mysql-connector and sturdydb (``mariadb+sturdydb://``)."""

    driver = "sturdydb"
    supports_statement_cache = True

    def _sturdydb_ping(self, dbapi_connection: Any) -> bool:
        return sturdydb_ping(dbapi_connection)

    @classmethod
    def _sturdydb_target(cls) -> Callable[..., Any]:
        import mysql.connector

        return mysql.connector.connect


dialect = SturdyMySQLDialect
mariadb_dialect = SturdyMariaDBDialect
