"""IAM logins through psycopg2 and PyMySQL behind the RDS-like front, AWS on loopback.

psycopg2 sends the token over libpq like psycopg 3 (``sslmode=require`` added); PyMySQL answers
the front's ``mysql_clear_password`` request with the token, and the dialect makes TLS
mandatory first (PyMySQL would otherwise fall back to clear text when TLS is not offered).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import CLUSTER_HOST


def _other_driver(engine: str) -> Callable[..., Any]:
    if engine == "pg":
        import psycopg2

        return psycopg2.connect  # type: ignore[no-any-return]
    import pymysql

    return pymysql.connect  # type: ignore[no-any-return]


def test_a_token_logs_in_over_tls_through_the_other_drivers(iam_db: Any, token_spy: list[str]) -> None:
    import sturdydb

    options: dict[str, Any] = {"host": CLUSTER_HOST, "user": iam_db.user, "plugins": "iam", "connect_timeout": 10,
                               ("dbname" if iam_db.engine == "pg" else "database"): "test"}
    conn = sturdydb.connect(_other_driver(iam_db.engine), **options)
    assert conn.context.driver.name == ("psycopg2" if iam_db.engine == "pg" else "pymysql")
    cur = conn.cursor()
    cur.execute("SELECT 1")
    assert [tuple(r) for r in cur.fetchall()] == [(1,)]
    conn.close()
    (attempt,) = iam_db.front.attempts
    assert attempt.accepted and attempt.tls and attempt.user == iam_db.user
    assert len(token_spy) == 1
