"""Fixtures for sturdydb-secrets-manager's own tests: a fake Secrets Manager client.

The fake stands in for the boto3 client (no network at all); the end-to-end tests against
a Secrets Manager emulator on loopback live in ``tests/integration``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import sturdydb
from sturdydb_secrets_manager import plugin as plugin_module

PG_CONNINFO = "host=127.0.0.1 port=5432 dbname=test user=postgres"


class FakeSecretsClient:
    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.requests: list[str] = []
        self.delay = 0.0
        self.lock = threading.Lock()

    def put(self, secret_id: str, **values: str) -> None:
        self.secrets[secret_id] = json.dumps(values)

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        with self.lock:
            self.requests.append(SecretId)
        time.sleep(self.delay)
        from botocore.exceptions import ClientError

        if SecretId not in self.secrets:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}},
                              "GetSecretValue")
        return {"SecretString": self.secrets[SecretId]}


@pytest.fixture
def secrets_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSecretsClient]:
    client = FakeSecretsClient()
    used: list[tuple[str, str | None, str | None]] = []

    def fake_client(service: str, *, profile: str | None, region: str | None, endpoint: str | None = None) -> Any:
        used.append((service, region, endpoint))
        return client

    monkeypatch.setattr(plugin_module, "aws_client", fake_client)
    client.used = used  # type: ignore[attr-defined]
    yield client
    sturdydb.release_resources()


class PasswordCheckingDriver:
    """A psycopg connect function that accepts one user/password pair, like a server."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(dict(kwargs))
        if (kwargs.get("user"), kwargs.get("password")) != (self.user, self.password):
            raise psycopg.OperationalError(
                f'connection failed: FATAL:  password authentication failed for user "{kwargs.get("user")}"'
            )
        return psycopg.connect(PG_CONNINFO)


@pytest.fixture
def make_driver() -> type[PasswordCheckingDriver]:
    """The class of a fake psycopg connect function that checks user and password."""
    return PasswordCheckingDriver
