"""Fixtures for sturdydb-iam's own tests: fake AWS credentials, a recording fake driver.

Nothing here talks to AWS: an RDS token is signed locally, and the environment is set so
that botocore can neither find real credentials nor reach the instance metadata service.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import sturdydb
import sturdydb_aws as aws

ACCESS_KEY = "AKIASTURDYDBTESTKEY1"
SECRET_KEY = "sturdydb-test-secret-key-not-real-0000000"
PG_CONNINFO = "host=127.0.0.1 port=5432 dbname=test user=postgres"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    aws.clear_clients()
    yield
    aws.clear_clients()
    sturdydb.release_resources()


class FakeDriver:
    """A psycopg connect function that checks the password like a server would."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.refuse_next = 0
        self.refuse_all = False

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(dict(kwargs))
        refuse = self.refuse_all or self.refuse_next > 0
        self.refuse_next = max(0, self.refuse_next - 1)
        if refuse:
            raise psycopg.OperationalError(
                f'connection failed: FATAL:  PAM authentication failed for user "{kwargs.get("user")}"'
            )
        return psycopg.connect(PG_CONNINFO)

    @property
    def passwords(self) -> list[str]:
        return [c["password"] for c in self.calls]


@pytest.fixture
def fake_driver() -> FakeDriver:
    return FakeDriver()
