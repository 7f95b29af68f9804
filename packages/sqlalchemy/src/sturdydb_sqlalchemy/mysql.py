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


class SturdyMySQLDialect(SturdyDialectMixin, MySQLDialect_mysqlconnector):  # type: ignore[misc]
    """MySQL and MariaDB through mysql-connector and sturdydb (``mysql+sturdydb://``)."""

    driver = "sturdydb"
    supports_statement_cache = True

    @classmethod
    def _sturdydb_target(cls) -> Callable[..., Any]:
        import mysql.connector

        return mysql.connector.connect  # type: ignore[no-any-return]


class SturdyMariaDBDialect(SturdyDialectMixin, MariaDBDialect_mysqlconnector):  # type: ignore[misc]
    """MariaDB through mysql-connector and sturdydb (``mariadb+sturdydb://``)."""

    driver = "sturdydb"
    supports_statement_cache = True

    @classmethod
    def _sturdydb_target(cls) -> Callable[..., Any]:
        import mysql.connector

        return mysql.connector.connect  # type: ignore[no-any-return]


dialect = SturdyMySQLDialect
mariadb_dialect = SturdyMariaDBDialect
