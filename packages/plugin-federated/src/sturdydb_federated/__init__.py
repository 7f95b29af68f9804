"""sturdydb-federated: ADFS and Okta SAML federation to RDS/Aurora IAM database tokens.

``plugins="federated_auth"`` (ADFS) or ``plugins="okta"`` signs in to the identity provider
with ``idp_username``/``idp_password``, exchanges the SAML assertion for temporary
credentials of an IAM role with STS, and logs in to the database with an IAM token signed
by them. Credentials and tokens are cached, so a warm connect makes no network request.
"""

from __future__ import annotations

from sturdydb_federated.errors import FederatedAuthError
from sturdydb_federated.identity import FederatedIdentity
from sturdydb_federated.plugin import (
    FederatedAuthPlugin,
    FederatedTarget,
    OktaAuthPlugin,
    SamlFederationPlugin,
)
from sturdydb_federated.saml import SamlRole
from sturdydb_federated.sts import TemporaryCredentials

__all__ = [
    "FederatedAuthError",
    "FederatedAuthPlugin",
    "FederatedIdentity",
    "FederatedTarget",
    "OktaAuthPlugin",
    "SamlFederationPlugin",
    "SamlRole",
    "TemporaryCredentials",
]
