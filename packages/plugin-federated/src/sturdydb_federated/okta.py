"""Okta: the authentication API's session token, then the AWS app's SAML response.

Steps: POST ``/api/v1/authn`` with the user name and password (JSON); a ``SUCCESS`` answer
carries a one-time ``sessionToken``. GET ``/app/amazon_aws/<app_id>/sso/saml`` with
``onetimetoken=<sessionToken>``: the answer is a self-posting form holding ``SAMLResponse``.
Multi-factor and password-change states are reported, not handled: a database login cannot
answer them interactively.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sturdydb_federated.errors import federation_error
from sturdydb_federated.forms import find_saml_response
from sturdydb_federated.transport import expect_success

if TYPE_CHECKING:
    from sturdydb_federated.identity import FederatedIdentity
    from sturdydb_federated.transport import IdpTransport

__all__ = ["AUTHN_PATH", "okta_saml_response"]

AUTHN_PATH = "/api/v1/authn"
AUTHN_STEP = "Okta authentication"
APP_STEP = "Okta SAML app"


def okta_saml_response(identity: FederatedIdentity, transport: IdpTransport) -> str:
    """Sign in to Okta as ``identity`` and return the AWS app's base64 ``SAMLResponse``."""
    answer = transport.request(
        AUTHN_STEP, "POST", f"{identity.base_url}{AUTHN_PATH}",
        json={"username": identity.username, "password": identity.password},
        headers={"Accept": "application/json", "Content-Type": "application/json"},
    )
    if answer.status_code in (401, 403):
        raise federation_error(
            AUTHN_STEP, f"Okta refused the user name or password of {identity.describe()}; check "
                        "idp_username and idp_password")
    expect_success(AUTHN_STEP, answer, "the Okta authentication API")
    try:
        body: Any = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise federation_error(AUTHN_STEP, f"{identity.base_url}{AUTHN_PATH} did not answer with JSON; "
                                           "check that idp_endpoint is the Okta org's host name")
    status = body.get("status")
    if status != "SUCCESS":
        raise federation_error(
            AUTHN_STEP, f"Okta answered status {status!r} for {identity.describe()}; only a plain "
                        "password sign-in (status SUCCESS) can be used for database logins, so "
                        "exempt this user or app from multi-factor and password-change prompts")
    session_token = body.get("sessionToken")
    if not isinstance(session_token, str) or not session_token:
        raise federation_error(AUTHN_STEP, "Okta's answer carries no sessionToken")
    app_path = f"/app/amazon_aws/{quote(identity.app_id or '', safe='')}/sso/saml"
    page = transport.request(APP_STEP, "GET", f"{identity.base_url}{app_path}",
                             params={"onetimetoken": session_token})
    expect_success(APP_STEP, page, f"the Okta app {identity.app_id}")
    saml_response = find_saml_response(page.text)
    if saml_response is None:
        raise federation_error(
            APP_STEP, f"the Okta app {identity.app_id!r} returned no SAMLResponse for "
                      f"{identity.describe()}; check app_id and that the user is assigned to the app")
    return saml_response
