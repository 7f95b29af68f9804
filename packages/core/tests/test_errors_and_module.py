"""The PEP 249 module surface, the exception tree, and driver-flavoured failover errors."""

from __future__ import annotations

import subprocess
import sys

import mysql.connector
import psycopg
import pytest

import sturdydb
from sturdydb._errors import make_error


def test_module_globals() -> None:
    assert sturdydb.apilevel == "2.0"
    assert sturdydb.threadsafety in (1, 2, 3)
    assert sturdydb.paramstyle == "pyformat"


def test_pep249_tree() -> None:
    assert issubclass(sturdydb.OperationalError, sturdydb.DatabaseError)
    assert issubclass(sturdydb.DatabaseError, sturdydb.Error)
    assert issubclass(sturdydb.InterfaceError, sturdydb.Error)
    assert issubclass(sturdydb.ConfigurationError, ValueError)
    for cls in (sturdydb.FailoverSuccessError, sturdydb.FailoverFailedError,
                sturdydb.TransactionResolutionUnknownError):
        assert issubclass(cls, sturdydb.FailoverError)


@pytest.mark.parametrize(("cls", "state"), [
    (sturdydb.FailoverSuccessError, "08S02"),
    (sturdydb.TransactionResolutionUnknownError, "08007"),
    (sturdydb.FailoverFailedError, "08001"),
])
@pytest.mark.parametrize("driver_error", [psycopg.OperationalError, mysql.connector.errors.OperationalError])
def test_failover_errors_are_also_driver_errors(cls: type, state: str, driver_error: type) -> None:
    error = make_error(cls, "switched to a new writer", driver_error)
    assert isinstance(error, cls) and isinstance(error, driver_error)
    assert error.sqlstate == state
    assert "switched to a new writer" in str(error)
    assert type(make_error(cls, "again", driver_error)) is type(error)


def test_import_starts_no_thread_and_opens_nothing() -> None:
    code = (
        "import threading, sturdydb, sturdydb.psycopg, sturdydb.mysql_connector;"
        "from sturdydb._discovery import catalog; catalog();"
        "print(sorted(t.name for t in threading.enumerate()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "['MainThread']"
