"""``mysql+sturdydb_pymysql://`` and ``mariadb+sturdydb_pymysql://``: SQLAlchemy's PyMySQL
dialects with connections opened by sturdydb.

SQLAlchemy's pool pre-ping calls the driver's ``ping()``; here it is a ``SELECT 1`` through
sturdydb's plugins (as for mysql-connector), so a ping of a frozen host is bounded and fails
over like any call. ``stream_results`` uses PyMySQL's unbuffered cursor, whose fetches
sturdydb treats as network-bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects.mysql.mariadb import MariaDBDialect
from sqlalchemy.dialects.mysql.pymysql import MySQLDialect_pymysql

from sturdydb_sqlalchemy._common import SturdyDialectMixin
from sturdydb_sqlalchemy.mysql import sturdydb_ping

__all__ = ["SturdyMariaDBPyMySQLDialect", "SturdyPyMySQLDialect", "dialect", "mariadb_dialect"]


# SQLAlchemy's MySQLdb-family method signatures differ from the mixin's (Any-typed) ones.
class SturdyPyMySQLDialect(SturdyDialectMixin, MySQLDialect_pymysql):  # type: ignore[misc]
    """MySQL and MariaDB through PyMySQL and sturdydb (``mysql+sturdydb_pymysql://``)."""

    driver = "sturdydb_pymysql"
    supports_statement_cache = True

    def _sturdydb_ping(self, dbapi_connection: Any) -> bool:
        return sturdydb_ping(dbapi_connection)

    @classmethod
    def _sturdydb_target(cls) -> Callable[..., Any]:
        import pymysql

        return pymysql.connect


class SturdyMariaDBPyMySQLDialect(MariaDBDialect, SturdyPyMySQLDialect):  # type: ignore[misc]
    """MariaDB through PyMySQL and sturdydb (``mariadb+sturdydb_pymysql://``)."""

    supports_statement_cache = True


dialect = SturdyPyMySQLDialect
mariadb_dialect = SturdyMariaDBPyMySQLDialect
