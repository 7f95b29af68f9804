"""Secrets Manager credentials end to end on PostgreSQL and MariaDB through each of the four
drivers, AWS emulated on loopback."""

from __future__ import annotations

import importlib
import threading
import time
from typing import Any

import pytest


def test_connects_with_the_secrets_credentials_and_caches_them(secret_db: Any) -> None:
    for _ in range(5):
        conn = secret_db.connect()
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert [tuple(r) for r in cur.fetchall()] == [(1,)]
        conn.close()
    assert secret_db.fetches == 1
    assert secret_db.front.accepted == 5
    assert {a.user for a in secret_db.front.attempts} == {"ledger_app"}


def test_a_rotated_secret_is_refetched_once_and_the_login_succeeds(secret_db: Any) -> None:
    secret_db.connect().close()
    secret_db.rotate("second-password-0002")
    conn = secret_db.connect()
    conn.close()
    assert secret_db.fetches == 2
    assert [a.accepted for a in secret_db.front.attempts] == [True, False, True]
    secret_db.connect().close()  # the new value is cached now
    assert secret_db.fetches == 2


def test_a_password_changed_only_on_the_server_fails_after_one_refetch(secret_db: Any) -> None:
    secret_db.connect().close()
    secret_db.passwords.set("ledger_app", "rotated-behind-the-secrets-back")
    with pytest.raises(secret_db.login_error) as info:
        secret_db.connect()
    assert secret_db.fetches == 2  # refetched once, unchanged, so no second login attempt
    assert secret_db.front.rejected == 1
    assert "ledger/" in "\n".join(getattr(info.value, "__notes__", []))


def test_an_expired_cache_entry_is_refetched(secret_db: Any) -> None:
    secret_db.connect(secrets_manager_expiration=1).close()
    time.sleep(1.1)
    secret_db.connect(secrets_manager_expiration=1).close()
    assert secret_db.fetches == 2


def test_concurrent_cold_connects_make_one_aws_request(secret_db: Any) -> None:
    errors: list[BaseException] = []

    def one() -> None:
        try:
            secret_db.connect().close()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert secret_db.fetches == 1


def test_the_region_comes_from_the_arn_and_a_name_works_with_a_region(secret_db: Any) -> None:
    assert ":us-east-1:" in secret_db.secret_arn
    secret_db.connect().close()
    secret_db.connect(secrets_manager_secret_id=f"ledger/{secret_db.engine}/app",
                      secrets_manager_region="us-east-1",
                      secrets_manager_endpoint=secret_db.moto.url).close()
    assert secret_db.fetches == 2  # a different configuration is a different cache entry


def test_an_unknown_secret_is_a_clear_operational_error(secret_db: Any) -> None:
    import sturdydb

    with pytest.raises(sturdydb.OperationalError, match="could not read secret 'no/such/secret'") as info:
        secret_db.connect(secrets_manager_secret_id="no/such/secret")
    # Also the driver's own OperationalError, so existing except clauses catch it.
    assert isinstance(info.value, importlib.import_module(secret_db.driver.module).OperationalError)
    assert secret_db.front.attempts == []
