"""The ``aws_secrets_manager`` plugin's properties: data only, read by the catalog without importing the plugin."""

from __future__ import annotations

from sturdydb import PropertySpec
from sturdydb_aws.properties import AWS_PROFILE_PROPERTY

__all__ = ["PROPERTIES"]

ONE_YEAR_S = 365 * 24 * 3600

PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("secrets_manager_secret_id", str, None,
                 "Name or ARN of the secret holding the database credentials (required).",
                 owner="aws_secrets_manager"),
    PropertySpec("secrets_manager_region", str, None,
                 "Region of the secret. Unset means taken from the ARN, else from the AWS "
                 "configuration (AWS_REGION, the profile).", owner="aws_secrets_manager"),
    PropertySpec("secrets_manager_endpoint", str, None,
                 "Secrets Manager endpoint URL override (a VPC endpoint, or a local emulator).",
                 owner="aws_secrets_manager"),
    PropertySpec("secrets_manager_secret_username_key", str, "username",
                 "Key of the user name in the secret's JSON.", owner="aws_secrets_manager"),
    PropertySpec("secrets_manager_secret_password_key", str, "password",
                 "Key of the password in the secret's JSON.", owner="aws_secrets_manager"),
    PropertySpec("secrets_manager_expiration", int, ONE_YEAR_S,
                 "How long a fetched secret is reused; a negative value means one year. A "
                 "rotated secret is picked up earlier anyway: a refused login refetches it.",
                 # Negative values keep their meaning (one year); the bounds only refuse
                 # absurd magnitudes, NaN and infinity.
                 owner="aws_secrets_manager", unit="s",
                 minimum=-10 * ONE_YEAR_S, maximum=10 * ONE_YEAR_S),
    AWS_PROFILE_PROPERTY,
)
