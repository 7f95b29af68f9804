"""End-to-end fixtures for sturdydb-secrets-manager: moto on loopback, password-checking fronts.

The secret lives in moto (Secrets Manager emulated over HTTP on 127.0.0.1). The database is
the machine's own server behind a ``sturdydb_testing`` front that checks the application
user's password (the local servers themselves trust everyone), so a rotated password really
locks out the old one.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import sturdydb
import sturdydb_aws as aws
from sturdydb_testing.aws import MotoServer
from sturdydb_testing.aws_pytest import SecretLog, auth_fronts, aws_env, moto_server, secret_log  # noqa: F401
from sturdydb_testing.drivers import DRIVERS, Driver
from sturdydb_testing.iam_front import AuthFront, PasswordCheck

DB_HOST = "ledger.cluster-5ec2e75ab1e5.us-east-1.rds.amazonaws.com"
APP_USER = "ledger_app"
BACKEND_USERS = {"pg": "postgres", "mysql": "root"}


@dataclass
class SecretDatabase:
    driver: Driver
    front: AuthFront
    passwords: PasswordCheck
    moto: MotoServer
    secret_arn: str
    log: SecretLog

    def rotate(self, password: str) -> None:
        """Rotate like Secrets Manager's rotation: new value in the secret and on the server."""
        with self.log.paused():  # the admin client logs the value it writes
            self.moto.client("secretsmanager").put_secret_value(
                SecretId=self.secret_arn, SecretString=json.dumps({"username": APP_USER, "password": password}))
        self.passwords.set(APP_USER, password)

    @property
    def engine(self) -> str:
        return self.driver.engine

    def connect(self, **kwargs: Any) -> sturdydb.Connection:
        options: dict[str, Any] = {"host": DB_HOST, "plugins": "aws_secrets_manager",
                                   "secrets_manager_secret_id": self.secret_arn, "connect_timeout": 10,
                                   **self.driver.options}
        if self.engine == "pg":
            options.update(dbname="test", sslmode="require")
        else:
            options.update(database="test")
        options.update(kwargs)
        conn = sturdydb.connect(self.driver.connect, **options)
        assert conn.context.driver.name == self.driver.name
        return conn

    @property
    def login_error(self) -> type[BaseException]:
        module = importlib.import_module(self.driver.module)
        return module.OperationalError if self.engine == "pg" else module.Error  # type: ignore[no-any-return]

    @property
    def fetches(self) -> int:
        return self.moto.count("GetSecretValue")


@pytest.fixture(params=DRIVERS, ids=lambda d: f"{d.engine}-{d.short_name}")
def secret_db(request: pytest.FixtureRequest, aws_env: MotoServer, auth_fronts: Any,  # noqa: F811
              secret_log: SecretLog) -> Iterator[SecretDatabase]:  # noqa: F811
    """The secret and the password-checking front, once per driver (psycopg and psycopg2 on
    PostgreSQL, mysql-connector and PyMySQL on MariaDB)."""
    driver: Driver = request.param
    engine = driver.engine
    aws.clear_clients()
    passwords = PasswordCheck({APP_USER: "first-password-0001"})
    backend = ("127.0.0.1", 5432) if engine == "pg" else ("127.0.0.1", 3306)
    front = auth_fronts(engine, backend, passwords, names=[DB_HOST], backend_user=BACKEND_USERS[engine])
    with secret_log.paused():
        arn = aws_env.client("secretsmanager").create_secret(
            Name=f"ledger/{engine}/app",
            SecretString=json.dumps({"username": APP_USER, "password": "first-password-0001"}))["ARN"]
    aws_env.clear_record()
    yield SecretDatabase(driver, front, passwords, aws_env, arn, secret_log)
    aws.clear_clients()
    sturdydb.release_resources()
