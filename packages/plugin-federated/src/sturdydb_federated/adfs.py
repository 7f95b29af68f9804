"""ADFS: the IdP-initiated sign-on form, posted like a browser would, to a SAML response.

Steps: GET ``/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=<rp_identifier>`` (the sign-in
page), fill the form's user name and password fields (found by type and name) keeping every
hidden field, POST it to the form's action, and read ``SAMLResponse`` from the self-posting
form of the answer. ADFS answers a refused password with the sign-in form again (HTTP 200),
which is how a wrong password is told apart from a page that is not a sign-in page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin

from sturdydb_federated.errors import federation_error
from sturdydb_federated.forms import find_saml_response, find_sign_in_form
from sturdydb_federated.transport import expect_success, https_only

if TYPE_CHECKING:
    from sturdydb_federated.identity import FederatedIdentity
    from sturdydb_federated.transport import IdpTransport

__all__ = ["SIGN_ON_PATH", "adfs_saml_response"]

SIGN_ON_PATH = "/adfs/ls/IdpInitiatedSignOn.aspx"
PAGE_STEP = "ADFS sign-in page"
SIGN_IN_STEP = "ADFS sign-in"


def adfs_saml_response(identity: FederatedIdentity, transport: IdpTransport) -> str:
    """Sign in to ADFS as ``identity`` and return the base64 ``SAMLResponse``."""
    url = f"{identity.base_url}{SIGN_ON_PATH}?loginToRp={quote(identity.rp_identifier or '', safe=':')}"
    page = transport.request(PAGE_STEP, "GET", url)
    expect_success(PAGE_STEP, page, "the ADFS sign-in page")
    form = find_sign_in_form(page.text)
    if form is None:
        raise federation_error(
            PAGE_STEP,
            f"{identity.base_url}{SIGN_ON_PATH} shows no sign-in form (no user name and password "
            "fields); check idp_endpoint, idp_port and rp_identifier, and that forms "
            "authentication is enabled on the ADFS server",
        )
    fields = form.values()
    # find_sign_in_form only returns forms that have both fields.
    fields[str(form.username_field)] = identity.username
    fields[str(form.password_field)] = identity.password
    action = https_only(urljoin(page.url, form.action or page.url), SIGN_IN_STEP)
    answer = transport.request(SIGN_IN_STEP, "POST", action, data=fields)
    expect_success(SIGN_IN_STEP, answer, "ADFS, after the credentials were posted,")
    saml_response = find_saml_response(answer.text)
    if saml_response is not None:
        return saml_response
    if find_sign_in_form(answer.text) is not None:
        raise federation_error(
            SIGN_IN_STEP,
            f"ADFS refused the user name or password of {identity.describe()} (it showed the "
            "sign-in form again); check idp_username and idp_password",
        )
    raise federation_error(
        SIGN_IN_STEP,
        f"ADFS accepted the sign-in of {identity.describe()} but returned no SAMLResponse; check "
        "rp_identifier and that the relying party for AWS is enabled",
    )
