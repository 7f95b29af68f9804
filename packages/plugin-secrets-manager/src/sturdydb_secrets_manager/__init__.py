"""sturdydb-secrets-manager: database credentials from AWS Secrets Manager for sturdydb.

``plugins="aws_secrets_manager", secrets_manager_secret_id=...`` sets the user and password
of every physical connection (the application's, and the ones failover or monitoring open)
from a JSON secret, cached so that only a cache miss calls AWS, and refetched once when the
database refuses the cached value (the secret was rotated).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sturdydb.plugin_api import lazy_exports

if TYPE_CHECKING:
    from sturdydb_secrets_manager.plugin import (
        AwsSecretsManagerPlugin,
        DatabaseCredentials,
        SecretRef,
        parse_secret,
    )

#: What this package exports, and the module each name lives in. Imported on first use, not
#: here: the plugin catalog reads this distribution's cheap ``_info`` module without importing
#: the plugin (see sturdydb's PluginInfo), so importing the package must stay cheap.
_LAZY: dict[str, str] = {
    "AwsSecretsManagerPlugin": "sturdydb_secrets_manager.plugin",
    "DatabaseCredentials": "sturdydb_secrets_manager.plugin",
    "SecretRef": "sturdydb_secrets_manager.plugin",
    "parse_secret": "sturdydb_secrets_manager.plugin",
}


__getattr__ = lazy_exports(globals(), _LAZY)


__all__ = ["AwsSecretsManagerPlugin", "DatabaseCredentials", "SecretRef", "parse_secret"]
