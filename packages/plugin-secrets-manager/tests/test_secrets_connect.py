"""The aws_secrets_manager plugin on the connect path: caching, rotation, regions, errors."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import psycopg
import pytest

import sturdydb
from sturdydb import ConfigurationError
from sturdydb_aws import AWS_PROFILE_PROPERTY
from sturdydb_secrets_manager import AwsSecretsManagerPlugin, DatabaseCredentials, parse_secret

ARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:db-creds-AbCdEf"


def connect(driver: Any, **kwargs: Any) -> sturdydb.Connection:
    options: dict[str, Any] = {"host": "127.0.0.1", "dbname": "test", "plugins": "aws_secrets_manager",
                               "secrets_manager_secret_id": ARN, "wrapper_driver_dialect": "psycopg"}
    options.update(kwargs)
    return sturdydb.connect(driver, **options)


def test_user_and_password_come_from_the_secret_and_are_cached(make_driver: Any, secrets_client: Any) -> None:
    secrets_client.put(ARN, username="svc", password="pw-1")
    driver = make_driver("svc", "pw-1")
    for _ in range(3):
        connect(driver).close()
    assert len(secrets_client.requests) == 1
    assert [(c["user"], c["password"]) for c in driver.calls] == [("svc", "pw-1")] * 3
    # The region came from the ARN.
    assert secrets_client.used[0] == ("secretsmanager", "eu-central-1", None)  # type: ignore[attr-defined]


def test_a_rotated_secret_is_fetched_again_once_and_the_connect_retried(make_driver: Any, secrets_client: Any) -> None:
    secrets_client.put(ARN, username="svc", password="pw-1")
    driver = make_driver("svc", "pw-1")
    connect(driver).close()
    secrets_client.put(ARN, username="svc", password="pw-2")
    driver.password = "pw-2"
    conn = connect(driver)
    assert conn.execute("SELECT 1").fetchone() == (1,)
    conn.close()
    assert len(secrets_client.requests) == 2
    assert [c["password"] for c in driver.calls] == ["pw-1", "pw-1", "pw-2"]


def test_an_unchanged_secret_is_not_retried(make_driver: Any, secrets_client: Any) -> None:
    secrets_client.put(ARN, username="svc", password="pw-1")
    driver = make_driver("svc", "pw-1")
    connect(driver).close()
    driver.password = "changed-on-the-server-only"
    with pytest.raises(psycopg.OperationalError) as info:
        connect(driver)
    assert len(driver.calls) == 2
    assert len(secrets_client.requests) == 2
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "db-creds" in notes and "pw-1" not in notes


def test_concurrent_connects_that_miss_the_cache_make_one_request(make_driver: Any, secrets_client: Any) -> None:
    secrets_client.put(ARN, username="svc", password="pw-1")
    secrets_client.delay = 0.3
    driver = make_driver("svc", "pw-1")
    errors: list[BaseException] = []

    def one() -> None:
        try:
            connect(driver).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(secrets_client.requests) == 1


def test_custom_key_names(make_driver: Any, secrets_client: Any) -> None:
    secrets_client.put(ARN, login="svc", secret="pw-1")
    driver = make_driver("svc", "pw-1")
    connect(driver, secrets_manager_secret_username_key="login",
            secrets_manager_secret_password_key="secret").close()
    assert driver.calls[0]["user"] == "svc"


def test_explicit_region_and_endpoint_are_used(make_driver: Any, secrets_client: Any) -> None:
    secrets_client.put("plain-name", username="svc", password="pw-1")
    driver = make_driver("svc", "pw-1")
    connect(driver, secrets_manager_secret_id="plain-name", secrets_manager_region="ap-south-1",
            secrets_manager_endpoint="http://127.0.0.1:1").close()
    assert secrets_client.used[0] == ("secretsmanager", "ap-south-1", "http://127.0.0.1:1")  # type: ignore[attr-defined]


def test_a_missing_secret_is_an_operational_error_of_the_driver(make_driver: Any, secrets_client: Any) -> None:
    driver = make_driver("svc", "pw-1")
    with pytest.raises(psycopg.OperationalError, match="could not read secret") as info:
        connect(driver)
    assert isinstance(info.value, sturdydb.OperationalError)
    assert driver.calls == []


def test_a_secret_without_the_keys_names_the_keys_not_the_values() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_secret('{"user": "svc", "pass": "hunter2"}', "username", "password", "s")
    assert "'username', 'password'" in str(info.value)
    assert "hunter2" not in str(info.value)
    with pytest.raises(ConfigurationError, match="not a JSON object") as info:
        parse_secret("hunter2", "username", "password", "s")
    assert "hunter2" not in str(info.value)


def test_credentials_never_show_the_password() -> None:
    assert "hunter2" not in repr(DatabaseCredentials("svc", "hunter2"))


def test_the_secret_id_is_required(make_driver: Any, secrets_client: Any) -> None:
    with pytest.raises(ConfigurationError, match="secrets_manager_secret_id"):
        connect(make_driver("a", "b"), secrets_manager_secret_id=None)


def test_the_plugin_is_published_under_its_code() -> None:
    assert sturdydb.catalog().resolve("aws_secrets_manager").cls is AwsSecretsManagerPlugin
    assert AwsSecretsManagerPlugin.weight == 800


def test_aws_profile_is_the_one_shared_spec() -> None:
    assert any(spec is AWS_PROFILE_PROPERTY for spec in AwsSecretsManagerPlugin.sturdydb_add_properties())
    assert sturdydb.catalog().registry.get("aws_profile") is AWS_PROFILE_PROPERTY


class CredentialListener(sturdydb.Plugin):
    """Records the chain's ``sturdydb_credentials_obtained`` broadcasts."""

    code: ClassVar[str] = "test_credential_listener"
    reports: ClassVar[list[tuple[Any, ...]]] = []

    @sturdydb.hookimpl
    def sturdydb_credentials_obtained(self, context: Any, host: Any, source: str, cached: bool,
                                      seconds: float) -> None:
        type(self).reports.append((host.url, source, cached, seconds))


def test_connects_report_secret_fetches_and_cache_hits_without_the_values(
    make_driver: Any, secrets_client: Any,
) -> None:
    sturdydb.register_plugin(CredentialListener)
    CredentialListener.reports = []
    try:
        plugins = "aws_secrets_manager,test_credential_listener"
        secrets_client.put(ARN, username="svc", password="pw-1")
        secrets_client.delay = 0.01
        driver = make_driver("svc", "pw-1")
        connect(driver, plugins=plugins).close()
        connect(driver, plugins=plugins).close()
        secrets_client.put(ARN, username="svc", password="pw-2")  # rotated
        driver.password = "pw-2"
        connect(driver, plugins=plugins).close()
    finally:
        sturdydb.unregister_plugin(CredentialListener.code)
    reports = CredentialListener.reports
    assert [r[:3] for r in reports] == [
        ("127.0.0.1", "secrets_manager", False),  # GetSecretValue
        ("127.0.0.1", "secrets_manager", True),  # the cache
        ("127.0.0.1", "secrets_manager", True),  # the cached, now refused, value ...
        ("127.0.0.1", "secrets_manager", False),  # ... so the secret is read again
    ]
    assert reports[0][3] >= 0.01 and reports[1][3] == 0.0  # the fetch's duration; none for a hit
    assert len(secrets_client.requests) == 2
    assert not any(secret in repr(reports) for secret in ("pw-1", "pw-2"))
