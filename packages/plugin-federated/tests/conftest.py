"""Fixtures for sturdydb-federated's own tests: an in-process fake IdP, moto in-process, a fake driver.

Nothing here opens a socket except the database connection to the machine's own PostgreSQL:
the identity provider is a ``requests`` transport adapter answering from Python, and STS is
moto's in-process mock, with fake credentials and no metadata service.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import psycopg
import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

import sturdydb
import sturdydb_aws as aws
from sturdydb_federated import FederatedAuthPlugin, OktaAuthPlugin
from sturdydb_federated import sts as federated_sts

PG_CONNINFO = "host=127.0.0.1 port=5432 dbname=test user=postgres"
ROLE_ARN = "arn:aws:iam::123456789012:role/app-db"
PROVIDER_ARN = "arn:aws:iam::123456789012:saml-provider/corp"
PASSWORD = "unit-test-idp-password"  # the fake IdP's only valid password


def saml_response(roles: list[tuple[str, str]], status: str = "Success") -> str:
    values = "".join(f"<saml:AttributeValue>{escape(f'{r},{p}')}</saml:AttributeValue>" for r, p in roles)
    xml = (
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">'
        f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:{status}"/></samlp:Status>'
        "<saml:Assertion><saml:AttributeStatement>"
        '<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName">'
        "<saml:AttributeValue>unit</saml:AttributeValue></saml:Attribute>"
        f'<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">{values}</saml:Attribute>'
        "</saml:AttributeStatement></saml:Assertion></samlp:Response>"
    )
    return base64.b64encode(xml.encode()).decode()


def saml_page(response: str) -> str:
    return (f'<html><body><form method="POST" action="https://signin.aws.amazon.com/saml">'
            f'<input type="hidden" name="SAMLResponse" value="{response}"/></form></body></html>')


ADFS_FORM = (
    '<html><body><form method="post" action="/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices">'
    '<input name="UserName" type="email" value=""><input name="Password" type="password">'
    '<input type="hidden" name="AuthMethod" value="FormsAuthentication"></form></body></html>'
)


class FakeIdp(BaseAdapter):
    """A ``requests`` adapter that plays ADFS and Okta; ``override`` may answer instead, per test."""

    PASSWORD = PASSWORD
    ROLE_ARN = ROLE_ARN
    PROVIDER_ARN = PROVIDER_ARN

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[bytes] = []
        self.roles = [(ROLE_ARN, PROVIDER_ARN)]
        self.override: Callable[[requests.PreparedRequest], tuple[int, str, dict[str, str]] | None] | None = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = urlsplit(str(request.url))
        self.requests.append((str(request.method), url.path))
        body = request.body.encode() if isinstance(request.body, str) else (request.body or b"")
        self.bodies.append(body)
        answer = self.override(request) if self.override else None
        if answer is None:
            answer = self.answer(str(request.method), url.path, url.query, body)
        status, text, headers = answer
        response = requests.Response()
        response.status_code = status
        response._content = text.encode()
        response.headers = CaseInsensitiveDict(headers)
        response.url = str(request.url)
        response.request = request
        response.encoding = "utf-8"
        return response

    def answer(self, method: str, path: str, query: str, body: bytes) -> tuple[int, str, dict[str, str]]:
        if path == "/adfs/ls/IdpInitiatedSignOn.aspx":
            if method == "GET":
                return 200, ADFS_FORM, {}
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if form.get("Password") != PASSWORD or form.get("AuthMethod") != "FormsAuthentication":
                return 200, ADFS_FORM, {}
            return 200, saml_page(saml_response(self.roles)), {}
        if path == "/api/v1/authn":
            data = json.loads(body)
            if data.get("password") != PASSWORD:
                return 401, '{"errorCode": "E0000004"}', {"Content-Type": "application/json"}
            return 200, json.dumps({"status": "SUCCESS", "sessionToken": "one-time-token-123"}), {}
        if path.startswith("/app/amazon_aws/") and "onetimetoken=one-time-token-123" in query:
            return 200, saml_page(saml_response(self.roles)), {}
        return 404, "not found", {}

    def close(self) -> None:
        pass

    def count(self) -> int:
        return len(self.requests)


@pytest.fixture
def fake_idp(monkeypatch: pytest.MonkeyPatch) -> FakeIdp:
    adapter = FakeIdp()

    def session() -> requests.Session:
        s = requests.Session()
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        return s

    monkeypatch.setattr(FederatedAuthPlugin, "session_factory", staticmethod(session))
    monkeypatch.setattr(OktaAuthPlugin, "session_factory", staticmethod(session))
    return adapter


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Any]:
    """moto's in-process mock with fake credentials: no AWS endpoint can be reached."""
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE",
                 "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFEDERATEDUNIT001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "federated-unit-test-secret-not-real-00000")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    aws.clear_clients()
    federated_sts.clear_clients()
    with mock_aws() as mock:
        yield mock
    sturdydb.release_resources()
    aws.clear_clients()
    federated_sts.clear_clients()


class FakeDriver:
    """A psycopg connect function that records what it was given."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.refuse = False

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(dict(kwargs))
        if self.refuse:
            raise psycopg.OperationalError(
                f'connection failed: FATAL:  PAM authentication failed for user "{kwargs.get("user")}"')
        return psycopg.connect(PG_CONNINFO)


@pytest.fixture
def fake_driver() -> FakeDriver:
    return FakeDriver()
