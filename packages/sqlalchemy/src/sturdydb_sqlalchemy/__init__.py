"""SQLAlchemy 2 dialects that open their connections through sturdydb.

Installed, the distribution registers (entry point group ``sqlalchemy.dialects``):

- ``postgresql+sturdydb://`` :class:`SturdyPGDialect` (SQLAlchemy's psycopg 3 dialect),
- ``mysql+sturdydb://`` :class:`SturdyMySQLDialect` and ``mariadb+sturdydb://``
  :class:`SturdyMariaDBDialect` (SQLAlchemy's mysql-connector dialects),
- ``postgresql+sturdydb_psycopg2://`` :class:`SturdyPsycopg2Dialect` (SQLAlchemy's psycopg2
  dialect),
- ``mysql+sturdydb_pymysql://`` :class:`SturdyPyMySQLDialect` and
  ``mariadb+sturdydb_pymysql://`` :class:`SturdyMariaDBPyMySQLDialect` (SQLAlchemy's PyMySQL
  dialects).

The driver is named in the URL like any SQLAlchemy driver; each dialect imports its driver
only when the engine is created, so only the drivers in use need to be installed.

The URL's query parameters and ``connect_args`` are sturdydb properties (``plugins``,
``profile_name``, every plugin's properties) plus the driver's own; see the package README for
what the application sees during a failover.
"""

from __future__ import annotations

from sturdydb_sqlalchemy._common import is_sturdydb_disconnect, keep_the_pool
from sturdydb_sqlalchemy.mysql import SturdyMariaDBDialect, SturdyMySQLDialect
from sturdydb_sqlalchemy.postgresql import SturdyPGDialect
from sturdydb_sqlalchemy.psycopg2 import SturdyPsycopg2Dialect
from sturdydb_sqlalchemy.pymysql import SturdyMariaDBPyMySQLDialect, SturdyPyMySQLDialect

__all__ = [
    "SturdyMariaDBDialect",
    "SturdyMariaDBPyMySQLDialect",
    "SturdyMySQLDialect",
    "SturdyPGDialect",
    "SturdyPsycopg2Dialect",
    "SturdyPyMySQLDialect",
    "is_sturdydb_disconnect",
    "keep_the_pool",
]
