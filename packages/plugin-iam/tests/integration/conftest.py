"""End-to-end fixtures for sturdydb-iam: moto on loopback, RDS-like authenticating fronts.

The fronts (``sturdydb_testing.iam_front``) stand in front of the machine's own servers
(PostgreSQL 127.0.0.1:5432 trust, MariaDB 127.0.0.1:3306 root) under an Aurora-shaped host
name pinned to a loopback address, and only let a session through after validating the IAM
token's signature, expiry, region, host, port and user, like RDS.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import sturdydb
import sturdydb_aws as aws
from sturdydb_iam import IamAuthPlugin
from sturdydb_testing.aws import ACCESS_KEY, REGION, SECRET_KEY
from sturdydb_testing.aws_pytest import auth_fronts, aws_env, moto_server, secret_log  # noqa: F401
from sturdydb_testing.drivers import DEFAULT_DRIVERS, DRIVERS, Driver
from sturdydb_testing.iam_front import AuthFront, IamTokenValidator

CLUSTER_HOST = "orders.cluster-c0ffee123456.us-east-1.rds.amazonaws.com"
IAM_USERS = {"pg": "postgres", "mysql": "root"}


@dataclass
class IamDatabase:
    """One engine behind an IAM front: how to connect through sturdydb (which driver), and the front."""

    driver: Driver
    front: AuthFront
    validator: IamTokenValidator
    user: str

    @property
    def engine(self) -> str:
        return self.driver.engine

    def connect(self, **kwargs: Any) -> sturdydb.Connection:
        options: dict[str, Any] = {"host": CLUSTER_HOST, "user": self.user, "plugins": "iam",
                                   "connect_timeout": 10, **self.driver.options}
        options["dbname" if self.engine == "pg" else "database"] = "test"
        options.update(kwargs)
        conn = sturdydb.connect(self.driver.connect, **options)
        assert conn.context.driver.name == self.driver.name
        return conn

    @property
    def module(self) -> Any:
        """The driver's module (its exception classes)."""
        return importlib.import_module(self.driver.module)

    @property
    def login_error(self) -> type[BaseException]:
        return self.module.OperationalError if self.engine == "pg" else self.module.Error  # type: ignore[no-any-return]


@pytest.fixture
def token_spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the plugin generates, in order (to count generations and check leaks)."""
    made: list[str] = []
    original = IamAuthPlugin.generate_token

    def spy(self: IamAuthPlugin, target: Any) -> str:
        token = original(self, target)
        made.append(token)
        return token

    monkeypatch.setattr(IamAuthPlugin, "generate_token", spy)
    return made


@pytest.fixture(params=DRIVERS, ids=lambda d: f"{d.engine}-{d.short_name}")
def iam_db(request: pytest.FixtureRequest, aws_env: Any, auth_fronts: Any) -> Iterator[IamDatabase]:  # noqa: F811
    """The IAM front once per driver (psycopg and psycopg2 on PostgreSQL, mysql-connector and
    PyMySQL on MariaDB); ``indirect`` parametrization may name one driver."""
    driver: Driver = request.param if isinstance(request.param, Driver) else DEFAULT_DRIVERS[request.param]
    engine = driver.engine
    aws.clear_clients()
    validator = IamTokenValidator(credentials={ACCESS_KEY: SECRET_KEY}, region=REGION, endpoints=[],
                                  users=[IAM_USERS[engine]])
    backend = ("127.0.0.1", 5432) if engine == "pg" else ("127.0.0.1", 3306)
    front = auth_fronts(engine, backend, validator, names=[CLUSTER_HOST], require_tls=True)
    validator.add_endpoint(CLUSTER_HOST, front.port)
    yield IamDatabase(driver, front, validator, IAM_USERS[engine])
    aws.clear_clients()
    sturdydb.release_resources()
