"""Which sturdydb errors make SQLAlchemy invalidate a pooled connection (no server needed)."""

from __future__ import annotations

import pytest

import sturdydb
from sturdydb_sqlalchemy import SturdyMySQLDialect, SturdyPGDialect, is_sturdydb_disconnect
from sturdydb_sqlalchemy.mysql_async import SturdyMySQLAsyncDialect
from sturdydb_sqlalchemy.postgresql_async import SturdyPGAsyncDialect


@pytest.mark.parametrize(("error", "expected"), [
    (sturdydb.FailoverSuccessError("replaced"), False),
    (sturdydb.TransactionResolutionUnknownError("unknown"), True),
    (sturdydb.StatementOutcomeUnknownError("unknown"), True),
    (sturdydb.FailoverFailedError("no writer"), True),
    (ValueError("not ours"), None),
])
def test_failover_outcomes(error: BaseException, expected: bool | None) -> None:
    assert is_sturdydb_disconnect(error) is expected


@pytest.mark.parametrize("dialect_cls", [SturdyPGDialect, SturdyMySQLDialect, SturdyPGAsyncDialect,
                                         SturdyMySQLAsyncDialect])
def test_dialects_apply_the_rule_before_the_drivers(dialect_cls: type) -> None:
    dialect = dialect_cls()
    assert dialect.is_disconnect(sturdydb.FailoverSuccessError("x"), None, None) is False
    assert dialect.is_disconnect(sturdydb.StatementOutcomeUnknownError("x"), None, None) is True
    assert dialect.is_disconnect(sturdydb.FailoverFailedError("x"), None, None) is True
