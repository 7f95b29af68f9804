"""SQLAlchemy 2 dialects that open their connections through sturdydb.

Installed, the distribution registers (entry point group ``sqlalchemy.dialects``):

- ``postgresql+sturdydb://`` :class:`SturdyPGDialect` (SQLAlchemy's psycopg 3 dialect),
- ``mysql+sturdydb://`` :class:`SturdyMySQLDialect` and ``mariadb+sturdydb://``
  :class:`SturdyMariaDBDialect` (SQLAlchemy's mysql-connector dialects).

The URL's query parameters and ``connect_args`` are sturdydb properties (``plugins``,
``profile_name``, every plugin's properties) plus the driver's own; see the package README for
what the application sees during a failover.
"""

from __future__ import annotations

from sturdydb_sqlalchemy._common import is_sturdydb_disconnect
from sturdydb_sqlalchemy.mysql import SturdyMariaDBDialect, SturdyMySQLDialect
from sturdydb_sqlalchemy.postgresql import SturdyPGDialect

__all__ = ["SturdyMariaDBDialect", "SturdyMySQLDialect", "SturdyPGDialect", "is_sturdydb_disconnect"]
