"""The properties of the ``federated_auth`` and ``okta`` plugins.

Names and defaults are the reference wrapper's. ``iam_host``, ``iam_default_port``,
``iam_region`` and ``iam_require_tls`` are declared by ``sturdydb-iam`` (a dependency) and
read from there, so one value serves both plugins. ``aws_profile`` is the one spec every AWS
plugin contributes (:data:`sturdydb_aws.AWS_PROFILE_PROPERTY`, owner ``aws``). ``idp_ca_bundle`` is ours:
the reference could only verify an identity provider whose certificate the system trusts.
"""

from __future__ import annotations

from sturdydb import PropertySpec
from sturdydb_aws import AWS_PROFILE_PROPERTY

__all__ = ["PROPERTIES", "TOKEN_EXPIRATION_S"]

#: The reference's default reuse time of a database token made from federated credentials.
TOKEN_EXPIRATION_S = 870

_OWNER = "federated_auth"

PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("idp_endpoint", str, None,
                 "Host name of the identity provider (ADFS server or Okta org, for example "
                 "`adfs.example.com` or `example.okta.com`). Required. Always reached over HTTPS.",
                 owner=_OWNER),
    PropertySpec("idp_port", int, 443, "HTTPS port of the identity provider.", owner=_OWNER, minimum=1),
    PropertySpec("idp_name", str, "adfs",
                 "Identity provider of the federated_auth plugin; only `adfs` is supported (use the "
                 "okta plugin for Okta).", owner=_OWNER, choices=("adfs",),
                 normalize=lambda value: value.strip().lower()),
    PropertySpec("rp_identifier", str, "urn:amazon:webservices",
                 "ADFS relying party identifier of AWS (`loginToRp` of the IdP-initiated sign-on).",
                 owner=_OWNER),
    PropertySpec("idp_username", str, None,
                 "User name at the identity provider (for example `user@example.com`). Required.",
                 owner=_OWNER),
    PropertySpec("idp_password", str, None, "Password at the identity provider. Required.",
                 owner=_OWNER, secret=True),
    PropertySpec("iam_role_arn", str, None,
                 "ARN of the IAM role to assume. Unset means the assertion's only role; required "
                 "when the assertion offers several.", owner=_OWNER),
    PropertySpec("iam_idp_arn", str, None,
                 "ARN of the IAM SAML identity provider that trusts the IdP. Unset means the one "
                 "paired with the role in the assertion.", owner=_OWNER),
    PropertySpec("db_user", str, None,
                 "Database user the IAM token is for. Unset means `user`.", owner=_OWNER),
    PropertySpec("iam_token_expiration", int, TOKEN_EXPIRATION_S,
                 "How long a database token is reused, in seconds (at most 900). A safety margin "
                 "of 10% (at most 30 s) is taken off, and a token is never kept beyond the "
                 "temporary credentials that signed it.", owner=_OWNER, unit="s", minimum=1),
    PropertySpec("http_request_connect_timeout", float, 60.0,
                 "Timeout of each HTTPS request to the identity provider: for connecting, and "
                 "again for each wait for data.", owner=_OWNER, unit="s", minimum=0),
    PropertySpec("ssl_secure", bool, True,
                 "Verify the identity provider's TLS certificate. `false` disables the check "
                 "(logged as a warning; the password could be sent to an impostor).", owner=_OWNER),
    PropertySpec("idp_ca_bundle", str, None,
                 "Path of a PEM file (or directory prepared with c_rehash) of CA certificates to "
                 "verify the identity provider with, instead of the system's trust store.",
                 owner=_OWNER),
    PropertySpec("app_id", str, None,
                 "Okta: id of the Amazon Web Services app (the part after `/amazon_aws/` in its "
                 "embed link). Required by the okta plugin.", owner="okta"),
    AWS_PROFILE_PROPERTY,
)
