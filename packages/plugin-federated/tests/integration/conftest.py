"""End-to-end fixtures: an HTTPS SAML identity provider, strict STS in moto, RDS-like fronts.

Everything runs on loopback: the identity provider (``sturdydb_testing.idp``) on 127.0.0.1
with a certificate from a CA made for this run, moto on 127.0.0.1 with ``AssumeRoleWithSAML``
checking the assertion's signature and role, and IAM-validating fronts
(``sturdydb_testing.iam_front``) in front of the machine's PostgreSQL and MariaDB that accept
tokens signed with the temporary credentials STS issued. ``aws_env`` installs a guard that
fails the test if anything tries to leave loopback.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import sturdydb
import sturdydb_aws as aws
from sturdydb_federated import sts as federated_sts
from sturdydb_testing.aws import REGION
from sturdydb_testing.aws_pytest import auth_fronts, aws_env, moto_server, secret_log  # noqa: F401
from sturdydb_testing.drivers import DEFAULT_DRIVERS, DRIVERS, Driver
from sturdydb_testing.iam_front import AuthFront, IamTokenValidator
from sturdydb_testing.idp import (
    CertificateAuthority,
    IdpUser,
    IssuedCredentials,
    SamlIdentityProvider,
    SamlSts,
)

CLUSTER_HOST = "payroll.cluster-c0ffee123456.us-east-1.rds.amazonaws.com"
DB_USERS = {"pg": "postgres", "mysql": "root"}
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/payroll-db"
OTHER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/payroll-admin"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:saml-provider/corp-adfs"
USERNAME = "alice@corp.example"
PASSWORD = "Tr0ub4dor&3-correct horse"
MULTI_ROLE_USER = "bob@corp.example"
MFA_USER = "carol@corp.example"


@pytest.fixture(scope="session")
def certificate_authority() -> CertificateAuthority:
    return CertificateAuthority()


@pytest.fixture
def idp(certificate_authority: CertificateAuthority) -> Iterator[SamlIdentityProvider]:
    users = {
        USERNAME: IdpUser(PASSWORD, [(ROLE_ARN, PROVIDER_ARN)]),
        MULTI_ROLE_USER: IdpUser(PASSWORD, [(ROLE_ARN, PROVIDER_ARN), (OTHER_ROLE_ARN, PROVIDER_ARN)]),
        MFA_USER: IdpUser(PASSWORD, [(ROLE_ARN, PROVIDER_ARN)], mfa=True),
    }
    with SamlIdentityProvider(certificate_authority, users=users) as server:
        yield server


@pytest.fixture
def saml_sts(aws_env: Any, idp: SamlIdentityProvider) -> Iterator[SamlSts]:  # noqa: F811
    with SamlSts() as sts:
        sts.trust(PROVIDER_ARN, idp)
        yield sts


@pytest.fixture
def token_spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every database token the plugins sign, in order."""
    made: list[str] = []
    original = federated_sts.sign_db_token

    def spy(credentials: Any, target: Any) -> str:
        token = original(credentials, target)
        made.append(token)
        return token

    monkeypatch.setattr(federated_sts, "sign_db_token", spy)
    return made


@dataclass
class FederatedDatabase:
    """One engine behind an IAM front that trusts STS-issued credentials; how to connect."""

    #: The emulated identities, for tests (importing conftest by name is ambiguous under nox).
    USERNAME = USERNAME
    PASSWORD = PASSWORD
    MULTI_ROLE_USER = MULTI_ROLE_USER
    MFA_USER = MFA_USER
    ROLE_ARN = ROLE_ARN
    OTHER_ROLE_ARN = OTHER_ROLE_ARN
    PROVIDER_ARN = PROVIDER_ARN

    driver: Driver
    front: AuthFront
    validator: IamTokenValidator
    idp: SamlIdentityProvider
    sts: SamlSts
    moto: Any
    ca_bundle: str
    user: str

    def options(self, plugin: str = "federated_auth", **kwargs: Any) -> dict[str, Any]:
        options: dict[str, Any] = {
            "host": CLUSTER_HOST, "db_user": self.user, "plugins": plugin, "connect_timeout": 10,
            "idp_endpoint": self.idp.endpoint, "idp_port": self.idp.port, "idp_ca_bundle": self.ca_bundle,
            "idp_username": USERNAME, "idp_password": PASSWORD, "iam_role_arn": ROLE_ARN,
            "iam_idp_arn": PROVIDER_ARN, "http_request_connect_timeout": 10,
        }
        if plugin == "okta":
            options["app_id"] = self.idp.app_id
        options["dbname" if self.engine == "pg" else "database"] = "test"
        options.update(self.driver.options)
        options.update(kwargs)
        return {k: v for k, v in options.items() if v is not None}

    @property
    def engine(self) -> str:
        return self.driver.engine

    def connect(self, plugin: str = "federated_auth", **kwargs: Any) -> sturdydb.Connection:
        conn = sturdydb.connect(self.driver.connect, **self.options(plugin, **kwargs))
        assert conn.context.driver.name == self.driver.name
        return conn

    @property
    def driver_error(self) -> type[BaseException]:
        module = importlib.import_module(self.driver.module)
        return module.OperationalError if self.engine == "pg" else module.Error  # type: ignore[no-any-return]

    def sts_calls(self) -> int:
        """AssumeRoleWithSAML calls (moto's request log cannot name form-encoded operations)."""
        return self.sts.calls


def _database(driver: Driver, moto: Any, make_front: Any, idp: SamlIdentityProvider, saml_sts: SamlSts,
              ca: CertificateAuthority) -> FederatedDatabase:
    engine = driver.engine
    # Only credentials issued by STS for an assertion open the database: the account's own
    # long-term key is not among the validator's credentials.
    validator = IamTokenValidator(credentials={}, region=REGION, endpoints=[], users=[DB_USERS[engine]])

    def accept(issued: IssuedCredentials) -> None:
        validator.credentials[issued.access_key_id] = issued.secret_access_key

    saml_sts.on_issue.append(accept)
    backend = ("127.0.0.1", 5432) if engine == "pg" else ("127.0.0.1", 3306)
    front = make_front(engine, backend, validator, names=[CLUSTER_HOST], require_tls=True)
    validator.add_endpoint(CLUSTER_HOST, front.port)
    return FederatedDatabase(driver, front, validator, idp, saml_sts, moto, ca.ca_bundle, DB_USERS[engine])


@pytest.fixture(params=DRIVERS, ids=lambda d: f"{d.engine}-{d.short_name}")
def fed_db(request: pytest.FixtureRequest, aws_env: Any, auth_fronts: Any, idp: SamlIdentityProvider,  # noqa: F811
           saml_sts: SamlSts, certificate_authority: CertificateAuthority) -> Iterator[FederatedDatabase]:
    """The federated database once per driver (psycopg and psycopg2 on PostgreSQL,
    mysql-connector and PyMySQL on MariaDB)."""
    aws.clear_clients()
    federated_sts.clear_clients()
    # ``indirect`` parametrization may name an engine instead: its default driver.
    driver = request.param if isinstance(request.param, Driver) else DEFAULT_DRIVERS[request.param]
    yield _database(driver, aws_env, auth_fronts, idp, saml_sts, certificate_authority)
    sturdydb.release_resources()
    aws.clear_clients()
    federated_sts.clear_clients()


@pytest.fixture
def pg_db(aws_env: Any, auth_fronts: Any, idp: SamlIdentityProvider, saml_sts: SamlSts,  # noqa: F811
          certificate_authority: CertificateAuthority) -> Iterator[FederatedDatabase]:
    """PostgreSQL only: for failures that happen before the database is reached."""
    aws.clear_clients()
    federated_sts.clear_clients()
    yield _database(DEFAULT_DRIVERS["pg"], aws_env, auth_fronts, idp, saml_sts, certificate_authority)
    sturdydb.release_resources()
    aws.clear_clients()
    federated_sts.clear_clients()
