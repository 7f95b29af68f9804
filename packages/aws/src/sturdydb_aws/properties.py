"""Properties shared by every AWS plugin, declared once.

``aws_profile`` is read by ``iam``, ``aws_secrets_manager``, ``federated_auth`` and ``okta``.
Each of them contributes this very spec object, so the registry keeps a single declaration
whatever the order in which the plugins are discovered. Its owner is ``"aws"`` (this shared
package, not a plugin code): a stable name, so ``doctor`` and the generated configuration
reference show the same owner however many of the AWS plugins are installed.
"""

from __future__ import annotations

from sturdydb import PropertySpec

__all__ = ["AWS_PROFILE_PROPERTY", "AWS_PROPERTY_OWNER"]

#: Owner of the properties every AWS plugin shares.
AWS_PROPERTY_OWNER = "aws"

AWS_PROFILE_PROPERTY = PropertySpec(
    "aws_profile", str, None,
    "Named profile of the AWS shared config/credentials files; unset means the default "
    "credential chain. Shared by the AWS plugins.",
    owner=AWS_PROPERTY_OWNER,
)
