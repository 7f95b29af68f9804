"""sturdydb-secrets-manager: database credentials from AWS Secrets Manager for sturdydb.

``plugins="aws_secrets_manager", secrets_manager_secret_id=...`` sets the user and password
of every physical connection (the application's, and the ones failover or monitoring open)
from a JSON secret, cached so that only a cache miss calls AWS, and refetched once when the
database refuses the cached value (the secret was rotated).
"""

from __future__ import annotations

from sturdydb_secrets_manager.plugin import (
    AwsSecretsManagerPlugin,
    DatabaseCredentials,
    SecretRef,
    parse_secret,
)

__all__ = ["AwsSecretsManagerPlugin", "DatabaseCredentials", "SecretRef", "parse_secret"]
