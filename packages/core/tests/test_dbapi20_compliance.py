"""The stock DB-API 2.0 compliance suite (``dbapi-compliance`` on PyPI) through sturdydb.

Neither driver passes every test of the suite on its own (psycopg's ``close`` is idempotent
and it has no ``callproc``; mysql-connector's unbuffered cursors trip several tests). The
promise is that sturdydb changes nothing, so each test must have the *same outcome* through
sturdydb as with the raw driver, and psycopg must pass the bulk of the suite.
"""

from __future__ import annotations

import functools
import re
import types
import unittest
import uuid
from typing import Any

import dbapi20
import mysql.connector
import psycopg
import psycopg2
import pymysql
from conftest import MYSQL_KWARGS, PG_CONNINFO

import sturdydb
import sturdydb.mysql_connector
import sturdydb.psycopg


def _through_sturdydb(driver: types.ModuleType) -> types.ModuleType:
    """``driver``'s PEP 249 surface with ``connect`` going through sturdydb (no plugins)."""
    module = types.ModuleType(f"sturdydb_{driver.__name__}")
    module.__dict__.update({k: v for k, v in vars(driver).items() if not k.startswith("__")})
    module.connect = functools.partial(_connect, driver.connect)  # type: ignore[attr-defined]
    return module


def _connect(target: Any, *args: Any, **kwargs: Any) -> sturdydb.Connection:
    return sturdydb.connect(target, *args, plugins="", **kwargs)


def _suite_class(driver: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> type[unittest.TestCase]:
    prefix = f"dbapi20_{uuid.uuid4().hex[:8]}_"

    class Case(dbapi20.DatabaseAPI20Test):  # type: ignore[misc]
        pass

    Case.driver = driver
    Case.connect_args = args
    Case.connect_kw_args = kwargs
    Case.lower_func = ""  # the suite's callproc test needs a server function named by the driver
    Case.table_prefix = prefix
    for name in ("ddl1", "ddl2", "xddl1", "xddl2"):
        setattr(Case, name, getattr(dbapi20.DatabaseAPI20Test, name).replace("dbapi20test_", prefix))
    return Case


def _outcomes(case: type[unittest.TestCase]) -> dict[str, str]:
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    outcomes = {test.id().rsplit(".", 1)[1]: "pass" for test in suite}  # before run() empties it
    result = unittest.TestResult()
    suite.run(result)
    for kind, entries in (("fail", result.failures), ("error", result.errors)):
        for test, trace in entries:
            last = trace.strip().splitlines()[-1]
            # Keep the exception class, drop messages that name per-run table prefixes.
            exc_class = re.split(r"[:(]", last, maxsplit=1)[0].rsplit(".", 1)[-1]
            outcomes[test.id().rsplit(".", 1)[1]] = f"{kind}:{exc_class}"
    return outcomes


def test_psycopg_outcomes_are_identical_through_sturdydb() -> None:
    raw = _outcomes(_suite_class(psycopg, (PG_CONNINFO,), {}))
    wrapped = _outcomes(_suite_class(sturdydb.psycopg, (PG_CONNINFO,), {"plugins": ""}))
    assert wrapped == raw
    # psycopg's own gaps: idempotent close(), no callproc() for the nextset helper, and the
    # suite's abstract setoutputsize test that every driver must override.
    assert {name for name, v in wrapped.items() if v != "pass"} == {
        "test_non_idempotent_close", "test_nextset", "test_setoutputsize",
    }


def test_mysql_connector_outcomes_are_identical_through_sturdydb() -> None:
    raw = _outcomes(_suite_class(mysql.connector, (), dict(MYSQL_KWARGS)))
    wrapped = _outcomes(_suite_class(sturdydb.mysql_connector, (), {**MYSQL_KWARGS, "plugins": ""}))
    assert wrapped == raw
    assert sum(v == "pass" for v in wrapped.values()) >= 20


def test_psycopg2_outcomes_are_identical_through_sturdydb() -> None:
    raw = _outcomes(_suite_class(psycopg2, (PG_CONNINFO,), {}))
    wrapped = _outcomes(_suite_class(_through_sturdydb(psycopg2), (PG_CONNINFO,), {}))
    assert wrapped == raw
    assert sum(v == "pass" for v in wrapped.values()) >= 25


def test_pymysql_outcomes_are_identical_through_sturdydb() -> None:
    raw = _outcomes(_suite_class(pymysql, (), dict(MYSQL_KWARGS)))
    wrapped = _outcomes(_suite_class(_through_sturdydb(pymysql), (), dict(MYSQL_KWARGS)))
    assert wrapped == raw
    assert sum(v == "pass" for v in wrapped.values()) >= 20
