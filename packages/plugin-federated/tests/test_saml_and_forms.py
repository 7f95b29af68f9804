"""Reading sign-in forms and SAML responses, choosing the role, masking secrets in log text."""

from __future__ import annotations

import base64

import pytest

from sturdydb_federated import FederatedAuthError, SamlRole
from sturdydb_federated.forms import find_saml_response, find_sign_in_form
from sturdydb_federated.identity import password_digest
from sturdydb_federated.redaction import redact
from sturdydb_federated.saml import choose_role, roles_in_response

ROLE = "arn:aws:iam::111122223333:role/db"
ADMIN = "arn:aws:iam::111122223333:role/admin"
IDP = "arn:aws:iam::111122223333:saml-provider/corp"
OTHER_IDP = "arn:aws:iam::111122223333:saml-provider/other"


def response(values: list[str], status: str = "Success") -> str:
    attrs = "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in values)
    xml = ('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
           'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">'
           f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:{status}"/></samlp:Status>'
           '<saml:Assertion><saml:AttributeStatement><saml:Attribute '
           f'Name="https://aws.amazon.com/SAML/Attributes/Role">{attrs}</saml:Attribute>'
           "</saml:AttributeStatement></saml:Assertion></samlp:Response>")
    return base64.b64encode(xml.encode()).decode()


def test_an_adfs_page_yields_its_form_fields_by_type_and_name() -> None:
    page = ("<html><form method='post' action='/adfs/ls/?client-request-id=1&amp;x=2'>"
            "<input type=hidden name=AuthMethod value=FormsAuthentication>"
            "<input id=u name=UserName type=email><input name=Password type=password>"
            "<input type=checkbox name=Kmsi><input type=submit name=go value=Sign></form>")
    form = find_sign_in_form(page)
    assert form is not None
    assert form.action == "/adfs/ls/?client-request-id=1&x=2"
    assert (form.username_field, form.password_field) == ("UserName", "Password")
    assert form.values() == {"AuthMethod": "FormsAuthentication", "UserName": "", "Password": ""}


def test_a_page_without_a_password_field_has_no_sign_in_form() -> None:
    assert find_sign_in_form("<form><input name=q></form>") is None
    assert find_sign_in_form("<html><p>maintenance</p></html>") is None


def test_the_saml_response_is_read_with_character_references_resolved() -> None:
    assert find_saml_response('<input type="hidden" name="SAMLResponse" value="PHNh&#x2b;bWw=" />') == "PHNh+bWw="
    assert find_saml_response('<input name="RelayState" value="x">') is None


def test_roles_are_read_in_either_order_and_deduplicated() -> None:
    roles = roles_in_response(response([f"{ROLE},{IDP}", f"{IDP},{ADMIN}", f"{ROLE},{IDP}", "garbage"]))
    assert roles == [SamlRole(ROLE, IDP), SamlRole(ADMIN, IDP)]


def test_a_failed_saml_status_is_an_error() -> None:
    with pytest.raises(FederatedAuthError, match="Responder") as info:
        roles_in_response(response([], status="Responder"))
    assert info.value.step == "SAML assertion"


def test_a_response_that_is_not_base64_xml_is_an_error_without_quoting_it() -> None:
    with pytest.raises(FederatedAuthError) as info:
        roles_in_response("not*base64*secret-looking-value")
    assert "secret-looking-value" not in str(info.value)


@pytest.mark.parametrize(("roles", "role", "idp", "expected"), [
    ([SamlRole(ROLE, IDP)], None, None, SamlRole(ROLE, IDP)),
    ([SamlRole(ROLE, IDP), SamlRole(ADMIN, IDP)], ADMIN, None, SamlRole(ADMIN, IDP)),
    ([SamlRole(ROLE, IDP), SamlRole(ROLE, OTHER_IDP)], ROLE, OTHER_IDP, SamlRole(ROLE, OTHER_IDP)),
    ([SamlRole(ROLE, IDP), SamlRole(ADMIN, OTHER_IDP)], None, OTHER_IDP, SamlRole(ADMIN, OTHER_IDP)),
])
def test_the_role_is_chosen(roles: list[SamlRole], role: str | None, idp: str | None, expected: SamlRole) -> None:
    assert choose_role(roles, role, idp) == expected


@pytest.mark.parametrize(("roles", "role", "idp", "message"), [
    ([], None, None, "offers no role"),
    ([SamlRole(ROLE, IDP), SamlRole(ADMIN, IDP)], None, None, "several roles"),
    ([SamlRole(ROLE, IDP)], ADMIN, None, f"does not offer role {ADMIN}"),
    ([SamlRole(ROLE, IDP)], ROLE, OTHER_IDP, "not iam_idp_arn"),
])
def test_role_choice_errors(roles: list[SamlRole], role: str | None, idp: str | None, message: str) -> None:
    with pytest.raises(FederatedAuthError, match=message) as info:
        choose_role(roles, role, idp)
    assert info.value.step == "role selection"


@pytest.mark.parametrize(("text", "secret"), [
    ("Making request with params: {'body': {'Action': 'AssumeRoleWithSAML', 'SAMLAssertion': 'PHNhbWw+c2VjcmV0'}}",
     "PHNhbWw+c2VjcmV0"),
    ("Response body:\nb'<Credentials><SecretAccessKey>wJalrXUtnFEMI/K7</SecretAccessKey>"
     "<SessionToken>FwoGZXIvYXdzEJr</SessionToken></Credentials>'", "wJalrXUtnFEMI/K7"),
    ("Response body:\nb'<SessionToken>FwoGZXIvYXdzEJr</SessionToken>'", "FwoGZXIvYXdzEJr"),
    ('https://idp:443 "GET /app/amazon_aws/x/sso/saml?onetimetoken=20111abcDEF HTTP/1.1" 200', "20111abcDEF"),
    ("CanonicalRequest:\nGET\n/\nAction=connect&X-Amz-Security-Token=IQoJb3JpZ2luX2Vj%2F&X-Amz-Date=1",
     "IQoJb3JpZ2luX2Vj"),
    ("{'Credentials': {'AccessKeyId': 'ASIA1', 'SecretAccessKey': 'abc\\'def', 'SessionToken': 'tok'}}", "abc"),
])
def test_redaction_masks_secret_shapes(text: str, secret: str) -> None:
    masked = redact(text)
    assert secret not in masked and "***" in masked


def test_redaction_keeps_ordinary_text() -> None:
    text = "Event needs-retry.sts.AssumeRoleWithSAML: calling handler <function>"
    assert redact(text) == text


def test_password_digests_differ_per_password_and_hide_it() -> None:
    assert password_digest("a") != password_digest("b")
    assert password_digest("a") == password_digest("a")
    assert "hunter2" not in password_digest("hunter2")
