"""The failover plugin's test for a statement that may switch the schema/database.

After every execute the plugin asks whether the statement may have been a ``SET``/``USE``
(then the new schema/database is recorded and carried over a failover). The cheap pre-test
(third character, blank first character) must let through every statement the full rule
(``str.startswith`` of :data:`SESSION_PREFIXES`) accepts, so the answer is the full rule's.
"""

from __future__ import annotations

import pytest

from sturdydb_failover.session import SESSION_PREFIXES, is_session_statement

STATEMENTS = [
    "SET search_path TO x", "set search_path TO x", "Set schema 'x'", "USE mysql", "use mysql",
    "Use `a``b`", " SET x", "\nset x", "\tuse x", "  select 1", "SELECT 1", "select 1",
    "INSERT INTO t VALUES (1)", "UPDATE t SET a = 1", "DELETE FROM t", "WITH x AS (SELECT 1) SELECT 1",
    "SHOW search_path", "sEt x", "SETX", "USER", "usE x", "SE", "US", "S", "", " ", "\n", "sel", "se t",
]


@pytest.mark.parametrize("sql", STATEMENTS)
def test_the_pre_test_never_changes_the_answer(sql: str) -> None:
    # Two characters or fewer cannot name a schema or database: no need to look further.
    assert is_session_statement(sql) is (len(sql) > 2 and sql.startswith(SESSION_PREFIXES))


@pytest.mark.parametrize("query", [None, b"SET x", 42, ("SET x",)])
def test_only_text_is_a_session_statement(query: object) -> None:
    assert is_session_statement(query) is False
