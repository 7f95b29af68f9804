"""sturdydb-federated: ADFS and Okta SAML federation to RDS/Aurora IAM database tokens.

``plugins="federated_auth"`` (ADFS) or ``plugins="okta"`` signs in to the identity provider
with ``idp_username``/``idp_password``, exchanges the SAML assertion for temporary
credentials of an IAM role with STS, and logs in to the database with an IAM token signed
by them. Credentials and tokens are cached, so a warm connect makes no network request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sturdydb.plugin_api import lazy_exports

if TYPE_CHECKING:
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

#: What this package exports, and the module each name lives in. Imported on first use, not
#: here: the plugin catalog reads this distribution's cheap ``_info`` module without importing
#: the plugin (see sturdydb's PluginInfo), so importing the package must stay cheap.
_LAZY: dict[str, str] = {
    "FederatedAuthError": "sturdydb_federated.errors",
    "FederatedIdentity": "sturdydb_federated.identity",
    "FederatedAuthPlugin": "sturdydb_federated.plugin",
    "FederatedTarget": "sturdydb_federated.plugin",
    "OktaAuthPlugin": "sturdydb_federated.plugin",
    "SamlFederationPlugin": "sturdydb_federated.plugin",
    "SamlRole": "sturdydb_federated.saml",
    "TemporaryCredentials": "sturdydb_federated.sts",
}


__getattr__ = lazy_exports(globals(), _LAZY)


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
