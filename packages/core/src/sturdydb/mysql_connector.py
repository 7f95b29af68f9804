"""A PEP 249 module for mysql-connector-python through sturdydb.

``import sturdydb.mysql_connector as db; db.connect(host=..., user=..., plugins="failover")``.
The exception classes and type constructors are mysql-connector's own, so existing ``except``
clauses keep working (sturdydb's failover errors derive from its ``OperationalError``).
"""

from __future__ import annotations

from typing import Any

import mysql.connector as _mysql
from mysql.connector import (  # noqa: F401 - re-exported as this module's PEP 249 surface
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    DatabaseError,
    DataError,
    Date,
    DateFromTicks,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
    Warning,  # noqa: A004 - PEP 249 name
)

from sturdydb._connection import Connection
from sturdydb._connection import connect as _connect

apilevel = "2.0"
threadsafety = 1
paramstyle = "pyformat"


def connect(conninfo: str = "", **kwargs: Any) -> Connection:
    """Open a mysql-connector connection through sturdydb."""
    return _connect(_mysql.connect, conninfo, **kwargs)
