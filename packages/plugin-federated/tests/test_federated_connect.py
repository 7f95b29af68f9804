"""Both plugins on the connect path with an in-process IdP and moto: what is sent, cached and refused."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import parse_qs

import psycopg
import pytest

import sturdydb
from sturdydb import ConfigurationError
from sturdydb_aws import AWS_PROFILE_PROPERTY
from sturdydb_federated import FederatedAuthError, FederatedAuthPlugin, OktaAuthPlugin
from sturdydb_federated import sts as federated_sts

RDS_HOST = "billing.cluster-abc123def456.eu-west-1.rds.amazonaws.com"
ROLE_ARN = "arn:aws:iam::123456789012:role/app-db"
PASSWORD = "unit-test-idp-password"  # the fake IdP's only valid password (conftest)


def connect(driver: Any, plugin: str = "federated_auth", **kwargs: Any) -> sturdydb.Connection:
    options: dict[str, Any] = {
        "host": RDS_HOST, "dbname": "test", "plugins": plugin, "wrapper_driver_dialect": "psycopg",
        "db_user": "app_user", "idp_endpoint": "idp.corp.example", "idp_username": "dana@corp.example",
        "idp_password": PASSWORD, "app_id": "0oaUNIT" if plugin == "okta" else None,
        "iam_role_arn": ROLE_ARN,
    }
    options.update(kwargs)
    return sturdydb.connect(driver, **{k: v for k, v in options.items() if v is not None})


def token_params(token: str) -> tuple[str, dict[str, str]]:
    host_port, _, query = token.partition("/?")
    return host_port, {k: v[0] for k, v in parse_qs(query).items()}


@pytest.mark.parametrize("plugin", ["federated_auth", "okta"])
def test_the_password_is_a_token_for_db_user_signed_with_sts_credentials(
        fake_idp: Any, fake_driver: Any, plugin: str) -> None:
    with connect(fake_driver, plugin):
        pass
    (call,) = fake_driver.calls
    assert call["user"] == "app_user" and call["sslmode"] == "require"
    host_port, params = token_params(call["password"])
    assert host_port == f"{RDS_HOST}:5432"
    assert params["DBUser"] == "app_user"
    assert "/eu-west-1/rds-db/" in params["X-Amz-Credential"]
    assert "X-Amz-Security-Token" in params  # temporary credentials, not the process's own
    assert not params["X-Amz-Credential"].startswith("AKIAFEDERATEDUNIT001")
    for name in ("idp_password", "idp_username", "idp_endpoint", "db_user", "app_id", "iam_role_arn"):
        assert name not in call


def test_adfs_posts_the_form_with_its_hidden_fields(fake_idp: Any, fake_driver: Any) -> None:
    connect(fake_driver).close()
    assert fake_idp.requests == [("GET", "/adfs/ls/IdpInitiatedSignOn.aspx"),
                                 ("POST", "/adfs/ls/IdpInitiatedSignOn.aspx")]
    posted = {k: v[0] for k, v in parse_qs(fake_idp.bodies[1].decode()).items()}
    assert posted == {"UserName": "dana@corp.example", "Password": PASSWORD, "AuthMethod": "FormsAuthentication"}


def test_cached_credentials_and_token_make_no_request(fake_idp: Any, fake_driver: Any) -> None:
    for _ in range(3):
        connect(fake_driver, "okta").close()
    assert fake_idp.count() == 2
    assert len({c["password"] for c in fake_driver.calls}) == 1


def test_a_token_expiry_re_signs_without_signing_in(fake_idp: Any, fake_driver: Any, monkeypatch: Any) -> None:
    signed: list[str] = []
    original = federated_sts.sign_db_token

    def spy(credentials: Any, target: Any) -> str:
        signed.append(target.user)
        return original(credentials, target)

    monkeypatch.setattr(federated_sts, "sign_db_token", spy)
    conn = connect(fake_driver)
    plugin: Any = conn.context.pipeline.get("federated_auth")
    conn.close()
    plugin.tokens.clear()  # as if the token had expired
    connect(fake_driver).close()
    assert fake_idp.count() == 2  # one sign-in
    assert signed == ["app_user", "app_user"]  # two tokens


def test_the_token_ttl_comes_from_iam_token_expiration(fake_idp: Any, fake_driver: Any) -> None:
    conn = connect(fake_driver, iam_token_expiration=100)
    plugin: Any = conn.context.pipeline.get("federated_auth")
    conn.close()
    ((target, entry),) = plugin.tokens._entries.items()
    assert target.token_ttl == pytest.approx(90.0)  # 100 s minus the 10 % margin
    import time

    assert entry.expires_at - time.monotonic() == pytest.approx(90.0, abs=2)
    ((_identity, creds),) = plugin.credentials._entries.items()
    # Credentials are reused until a fresh token would outlive them (plus the margin).
    assert creds.expires_at - time.monotonic() == pytest.approx(creds.value.remaining() - 90 - 30, abs=2)


def test_a_refused_fresh_token_drops_the_credentials(fake_idp: Any, fake_driver: Any) -> None:
    fake_driver.refuse = True
    with pytest.raises(psycopg.OperationalError, match="PAM authentication failed"):
        connect(fake_driver)
    fake_driver.refuse = False
    connect(fake_driver).close()
    assert fake_idp.count() == 4  # signed in again


def test_errors_are_driver_operational_errors_naming_the_step(fake_idp: Any, fake_driver: Any) -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        connect(fake_driver, "okta", idp_password="wrong")
    assert isinstance(info.value, FederatedAuthError)
    assert info.value.step == "Okta authentication"
    assert "wrong" not in str(info.value).replace("wrong password", "")
    assert fake_driver.calls == []


def test_a_redirect_to_plain_http_is_not_followed(fake_idp: Any, fake_driver: Any) -> None:
    def redirect(request: Any) -> Any:
        if request.method == "POST":
            return 307, "", {"Location": "http://idp.corp.example/steal"}
        return None

    fake_idp.override = redirect
    with pytest.raises(FederatedAuthError, match="non-HTTPS") as info:
        connect(fake_driver)
    assert info.value.step == "ADFS sign-in"
    assert fake_idp.count() == 2  # nothing was sent to the http address


def test_a_form_posting_to_plain_http_is_refused(fake_idp: Any, fake_driver: Any) -> None:
    def plain_form(request: Any) -> Any:
        if request.method == "GET":
            return 200, ('<form method="post" action="http://idp.corp.example/login">'
                         '<input name="UserName"><input name="Password" type="password"></form>'), {}
        return None

    fake_idp.override = plain_form
    with pytest.raises(FederatedAuthError, match="non-HTTPS"):
        connect(fake_driver)
    assert fake_idp.count() == 1


def test_redirects_within_https_are_followed(fake_idp: Any, fake_driver: Any) -> None:
    def moved(request: Any) -> Any:
        if request.url.startswith("https://idp.corp.example/adfs/") and request.method == "GET":
            return 302, "", {"Location": "https://idp2.corp.example/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=x"}
        return None

    fake_idp.override = moved
    connect(fake_driver).close()
    assert fake_idp.requests[0] == ("GET", "/adfs/ls/IdpInitiatedSignOn.aspx")
    assert len(fake_idp.requests) == 3


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"idp_endpoint": None}, "idp_endpoint"),
    ({"idp_username": None, "idp_password": None}, "idp_username, idp_password"),
    ({"db_user": None}, "db_user"),
    ({"host": "10.0.0.5"}, "iam_region"),
    ({"idp_endpoint": "idp.corp.example/adfs"}, "not a host name"),
])
def test_configuration_is_checked_before_any_request(fake_idp: Any, fake_driver: Any, kwargs: Any,
                                                     expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        connect(fake_driver, **kwargs)
    assert fake_idp.count() == 0 and fake_driver.calls == []


def test_okta_needs_app_id(fake_idp: Any, fake_driver: Any) -> None:
    with pytest.raises(ConfigurationError, match="app_id"):
        connect(fake_driver, "okta", app_id=None)


def test_user_is_the_database_user_when_db_user_is_unset(fake_idp: Any, fake_driver: Any) -> None:
    connect(fake_driver, db_user=None, user="fallback_user").close()
    assert token_params(fake_driver.calls[0]["password"])[1]["DBUser"] == "fallback_user"


def test_endpoint_with_port_and_scheme(fake_idp: Any, fake_driver: Any) -> None:
    captured: list[str] = []

    def spy(request: Any) -> None:
        captured.append(request.url)
        return

    fake_idp.override = spy
    connect(fake_driver, idp_endpoint="https://idp.corp.example:8443/").close()
    assert captured[0].startswith("https://idp.corp.example:8443/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=")


def test_weights_and_codes_follow_the_reference() -> None:
    assert (FederatedAuthPlugin.code, FederatedAuthPlugin.weight) == ("federated_auth", 900)
    assert (OktaAuthPlugin.code, OktaAuthPlugin.weight) == ("okta", 1000)


def test_provider_arn_defaults_to_the_roles_pair(fake_idp: Any, fake_driver: Any) -> None:
    fake_idp.roles = [(ROLE_ARN, fake_idp.PROVIDER_ARN)]
    connect(fake_driver, iam_role_arn=None).close()
    assert len(fake_driver.calls) == 1


def test_the_properties_are_registered_and_the_password_is_secret() -> None:
    registry = sturdydb.catalog().registry
    for name in ("idp_endpoint", "idp_port", "rp_identifier", "idp_username", "idp_password", "iam_role_arn",
                 "iam_idp_arn", "db_user", "idp_name", "iam_token_expiration", "http_request_connect_timeout",
                 "ssl_secure", "idp_ca_bundle", "app_id", "iam_region", "iam_host", "iam_default_port"):
        assert name in registry, name
    assert registry.is_secret("idp_password")
    defaults = {name: getattr(registry.get(name), "default", None) for name in ("iam_token_expiration", "idp_port")}
    assert defaults == {"iam_token_expiration": 870, "idp_port": 443}


def test_aws_profile_is_the_one_shared_spec_with_a_stable_owner() -> None:
    for plugin in [FederatedAuthPlugin, OktaAuthPlugin]:
        assert any(spec is AWS_PROFILE_PROPERTY for spec in plugin.sturdydb_add_properties())
    assert sturdydb.catalog().registry.get("aws_profile") is AWS_PROFILE_PROPERTY
    assert AWS_PROFILE_PROPERTY.owner == "aws"


class CredentialListener(sturdydb.Plugin):
    """Records the chain's ``sturdydb_credentials_obtained`` broadcasts."""

    code: ClassVar[str] = "test_credential_listener"
    reports: ClassVar[list[tuple[Any, ...]]] = []

    @sturdydb.hookimpl
    def sturdydb_credentials_obtained(self, context: Any, host: Any, source: str, cached: bool,
                                      seconds: float) -> None:
        type(self).reports.append((host.url, source, cached, seconds))


@pytest.mark.parametrize("plugin", ["federated_auth", "okta"])
def test_connects_report_the_federation_then_cache_hits_under_the_plugins_code(
        fake_idp: Any, fake_driver: Any, plugin: str) -> None:
    sturdydb.register_plugin(CredentialListener)
    CredentialListener.reports = []
    try:
        for _ in range(2):
            connect(fake_driver, plugin, plugins=f"{plugin},test_credential_listener").close()
    finally:
        sturdydb.unregister_plugin(CredentialListener.code)
    reports = CredentialListener.reports
    # The miss covers signing in, assuming the role and signing the token.
    assert [r[:3] for r in reports] == [(RDS_HOST, plugin, False), (RDS_HOST, plugin, True)]
    assert reports[0][3] > 0.0 and reports[1][3] == 0.0
    assert fake_idp.count() > 0
    secrets = {PASSWORD, *(c["password"] for c in fake_driver.calls)}
    assert not any(secret in repr(reports) for secret in secrets)
