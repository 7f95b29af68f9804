"""Each way federation can fail gives an error naming the step, with no secret, before the database."""

from __future__ import annotations

import logging
import socket
import traceback
from typing import Any

import psycopg
import pytest

from sturdydb import ConfigurationError
from sturdydb_federated import FederatedAuthError
from sturdydb_testing.idp import ADFS_PATH, OKTA_AUTHN_PATH


def failure(db: Any, plugin: str = "federated_auth", **kwargs: Any) -> FederatedAuthError:
    with pytest.raises(FederatedAuthError) as info:
        db.connect(plugin, **kwargs)
    error = info.value
    # Also the driver's own OperationalError, so existing except clauses catch it.
    assert isinstance(error, psycopg.OperationalError)
    text = "".join(traceback.format_exception(error)) + repr(error)
    assert db.PASSWORD not in text
    for secret in db.idp.issued_secrets:
        assert secret not in text
    assert db.front.attempts == []  # the database was never reached
    return error


def test_a_wrong_adfs_password_is_reported_as_refused(pg_db: Any) -> None:
    error = failure(pg_db, idp_password="not-the-password")
    assert error.step == "ADFS sign-in"
    assert "refused the user name or password" in str(error) and pg_db.USERNAME in str(error)
    assert "not-the-password" not in str(error)
    assert pg_db.sts_calls() == 0


def test_a_wrong_okta_password_is_reported_as_refused(pg_db: Any) -> None:
    error = failure(pg_db, "okta", idp_password="not-the-password")
    assert error.step == "Okta authentication"
    assert "refused the user name or password" in str(error)
    assert pg_db.idp.count("/app/") == 0


def test_okta_multi_factor_is_reported_not_attempted(pg_db: Any) -> None:
    error = failure(pg_db, "okta", idp_username=pg_db.MFA_USER)
    assert error.step == "Okta authentication" and "MFA_REQUIRED" in str(error)


def test_a_wrong_okta_app_id_names_the_app_step(pg_db: Any) -> None:
    error = failure(pg_db, "okta", app_id="0oaNOSUCHAPP")
    assert error.step == "Okta SAML app" and "HTTP 404" in str(error)


def test_a_sign_in_page_without_the_form(pg_db: Any) -> None:
    pg_db.idp.adfs_form = False
    error = failure(pg_db)
    assert error.step == "ADFS sign-in page" and "no sign-in form" in str(error)
    assert pg_db.idp.count() == 1  # the credentials were not posted anywhere


def test_a_wrong_relying_party_is_an_http_error_of_the_sign_in_page(pg_db: Any) -> None:
    error = failure(pg_db, rp_identifier="urn:example:not-aws")
    assert error.step == "ADFS sign-in page" and "HTTP 400" in str(error)


def test_a_role_the_assertion_does_not_offer(pg_db: Any) -> None:
    error = failure(pg_db, iam_role_arn="arn:aws:iam::123456789012:role/other")
    assert error.step == "role selection"
    assert "does not offer role arn:aws:iam::123456789012:role/other" in str(error)
    assert pg_db.ROLE_ARN in str(error)  # what it does offer
    assert pg_db.sts_calls() == 0


def test_several_roles_and_none_named(pg_db: Any) -> None:
    error = failure(pg_db, idp_username=pg_db.MULTI_ROLE_USER, iam_role_arn=None, iam_idp_arn=None)
    assert error.step == "role selection" and "set iam_role_arn" in str(error)


def test_sts_rejects_an_assertion_from_an_untrusted_provider(pg_db: Any) -> None:
    pg_db.sts.providers.clear()  # the account has no IAM SAML provider for this IdP
    error = failure(pg_db)
    assert error.step == "STS AssumeRoleWithSAML"
    assert "InvalidIdentityToken" in str(error) and pg_db.ROLE_ARN in str(error)


def test_sts_rejects_a_forged_signature(pg_db: Any) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pg_db.idp.sign = lambda data: impostor.sign(data, padding.PKCS1v15(), hashes.SHA256())
    error = failure(pg_db, "okta")
    assert error.step == "STS AssumeRoleWithSAML" and "signature" in str(error)


def test_sts_throttling_is_reported(pg_db: Any) -> None:
    pg_db.sts.reject_next = ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")
    error = failure(pg_db)
    assert error.step == "STS AssumeRoleWithSAML" and "AccessDenied" in str(error)


def test_an_unreachable_identity_provider(pg_db: Any) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = failure(pg_db, idp_port=port)
    assert error.step == "ADFS sign-in page" and "connection refused" in str(error)
    assert f"127.0.0.1:{port}" in str(error)


def test_a_slow_identity_provider_hits_http_request_connect_timeout(pg_db: Any) -> None:
    pg_db.idp.delay = 1.5
    error = failure(pg_db, "okta", http_request_connect_timeout=0.3)
    assert error.step == "Okta authentication" and "did not answer within 0.3 s" in str(error)


def test_an_untrusted_certificate_is_refused_by_default(pg_db: Any) -> None:
    error = failure(pg_db, idp_ca_bundle=None)  # the system's trust store does not know our CA
    assert error.step == "ADFS sign-in page" and "idp_ca_bundle" in str(error)
    assert pg_db.idp.count() == 0  # nothing was sent: the TLS handshake failed first


def test_ssl_secure_false_skips_the_check_with_a_warning(pg_db: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sturdydb.federated"):
        pg_db.connect("okta", idp_ca_bundle=None, ssl_secure=False).close()
    assert any("ssl_secure=false" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert pg_db.front.attempts[-1].accepted


@pytest.mark.parametrize("plugin", ["federated_auth", "okta"])
def test_missing_properties_are_reported_together_before_any_request(pg_db: Any, plugin: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        pg_db.connect(plugin, idp_endpoint=None, idp_password=None, app_id=None)
    message = str(info.value)
    assert "idp_endpoint" in message and "idp_password" in message
    assert ("app_id" in message) == (plugin == "okta")
    assert pg_db.idp.count() == 0 and pg_db.moto.count() == 0 and pg_db.front.attempts == []


def test_an_empty_password_is_missing_not_a_placeholder(pg_db: Any) -> None:
    with pytest.raises(ConfigurationError, match="idp_password"):
        pg_db.connect(idp_password="")
    assert pg_db.idp.count() == 0


def test_a_plain_http_endpoint_is_refused(pg_db: Any) -> None:
    with pytest.raises(ConfigurationError, match="HTTPS"):
        pg_db.connect(idp_endpoint=f"http://127.0.0.1:{pg_db.idp.port}")
    assert pg_db.idp.count() == 0


def test_idp_name_other_than_adfs_is_refused(pg_db: Any) -> None:
    with pytest.raises(ConfigurationError, match="idp_name"):
        pg_db.connect(idp_name="okta")


def test_errors_are_not_cached(pg_db: Any) -> None:
    failure(pg_db, idp_password="wrong")
    pg_db.connect().close()  # the right password works at once
    assert pg_db.front.attempts[-1].accepted
    assert [r.path for r in pg_db.idp.requests].count(ADFS_PATH) == 4
    assert pg_db.idp.count(OKTA_AUTHN_PATH) == 0


def test_a_wrong_password_never_reuses_credentials_cached_with_the_right_one(pg_db: Any) -> None:
    pg_db.connect("okta").close()
    with pytest.raises(FederatedAuthError) as info:
        pg_db.connect("okta", idp_password="guessing")
    assert info.value.step == "Okta authentication"
    assert len(pg_db.front.attempts) == 1
