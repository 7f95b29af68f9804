"""A PEP 249 module for psycopg through sturdydb: ``import sturdydb.psycopg as db``.

``db.connect(conninfo, **properties)`` is ``sturdydb.connect(psycopg.Connection.connect, ...)``;
the exception classes and type constructors are psycopg's own, so code written against the
psycopg module keeps catching the same errors (sturdydb's failover errors derive from
``psycopg.OperationalError``).
"""

from __future__ import annotations

from typing import Any

import psycopg as _psycopg
from psycopg import (  # noqa: F401 - re-exported as this module's PEP 249 surface
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
threadsafety = 2
paramstyle = "pyformat"


def connect(conninfo: str = "", **kwargs: Any) -> Connection:
    """Open a psycopg connection through sturdydb."""
    return _connect(_psycopg.Connection.connect, conninfo, **kwargs)
