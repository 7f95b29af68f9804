"""Reading the roles out of a SAML response and choosing the one to assume.

AWS federation puts the roles a user may take in the assertion attribute
``https://aws.amazon.com/SAML/Attributes/Role``: each value is a comma-separated pair of a
role ARN and the ARN of the IAM SAML provider that trusts the IdP, in either order. The
assertion's signature is checked by STS, not here; this module only needs the role list and
the response status, and reports everything else without quoting the assertion.

Parsing uses the standard library's expat-based parser, which resolves no external entities
and (with expat 2.4.1 or later, bundled with every supported Python) limits entity expansion.
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from sturdydb_federated.errors import federation_error

__all__ = ["ROLE_ATTRIBUTE", "SamlRole", "choose_role", "roles_in_response"]

ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
_ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"
_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"


@dataclass(frozen=True)
class SamlRole:
    """A role the assertion allows, with the SAML provider to name when assuming it."""

    role_arn: str
    provider_arn: str


def _parse_pair(value: str) -> SamlRole | None:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if len(parts) != 2:
        return None
    providers = [p for p in parts if ":saml-provider/" in p]
    roles = [p for p in parts if ":role/" in p]
    if len(providers) != 1 or len(roles) != 1:
        return None
    return SamlRole(roles[0], providers[0])


def roles_in_response(saml_response: str) -> list[SamlRole]:
    """The roles offered by a base64 ``SAMLResponse`` (checks it is a successful response)."""
    try:
        document = base64.b64decode("".join(saml_response.split()), validate=True)
        root = ET.fromstring(document)
    except (binascii.Error, ValueError, ET.ParseError):
        raise federation_error(
            "SAML assertion", "the identity provider's SAMLResponse is not base64-encoded SAML XML"
        ) from None
    status = root.find(f"{{{_PROTOCOL}}}Status/{{{_PROTOCOL}}}StatusCode")
    if root.tag == f"{{{_PROTOCOL}}}Response" and status is not None and status.get("Value") != _SUCCESS:
        raise federation_error(
            "SAML assertion", f"the identity provider answered with SAML status {status.get('Value')!r}"
        )
    roles: list[SamlRole] = []
    for attribute in root.iter(f"{{{_ASSERTION}}}Attribute"):
        if attribute.get("Name") != ROLE_ATTRIBUTE:
            continue
        for value in attribute.iter(f"{{{_ASSERTION}}}AttributeValue"):
            pair = _parse_pair(value.text or "")
            if pair is not None and pair not in roles:
                roles.append(pair)
    return roles


def choose_role(roles: list[SamlRole], role_arn: str | None, idp_arn: str | None) -> SamlRole:
    """The role to assume: ``iam_role_arn`` (and ``iam_idp_arn``) if given, else the only one."""
    if not roles:
        raise federation_error(
            "role selection",
            f"the SAML assertion offers no role (attribute {ROLE_ATTRIBUTE}); ask the identity "
            "provider's administrator to map this user to an AWS role",
        )
    offered = ", ".join(sorted({r.role_arn for r in roles}))
    if role_arn is None:
        candidates = [r for r in roles if idp_arn is None or r.provider_arn == idp_arn]
        if len(candidates) == 1:
            return candidates[0]
        raise federation_error(
            "role selection",
            f"the SAML assertion offers several roles ({offered}); set iam_role_arn to one of them",
        )
    for role in roles:
        if role.role_arn == role_arn and (idp_arn is None or role.provider_arn == idp_arn):
            return role
    if any(r.role_arn == role_arn for r in roles):
        providers = ", ".join(sorted(r.provider_arn for r in roles if r.role_arn == role_arn))
        raise federation_error(
            "role selection",
            f"the SAML assertion pairs role {role_arn} with SAML provider(s) {providers}, not "
            f"iam_idp_arn={idp_arn}; correct iam_idp_arn or leave it unset",
        )
    raise federation_error(
        "role selection",
        f"the SAML assertion does not offer role {role_arn}; it offers: {offered}. Correct "
        "iam_role_arn or ask the identity provider's administrator to grant the role",
    )
