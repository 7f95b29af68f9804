"""sturdydb-iam: RDS/Aurora IAM database authentication for sturdydb.

``plugins="iam"`` makes every physical connection (the application's, and the ones failover
or monitoring open) log in with an IAM token instead of a password. Tokens are made locally
by boto3's RDS signer and cached, so a connect with a cached token costs no AWS work at all.
"""

from __future__ import annotations

from sturdydb_iam.plugin import IamAuthPlugin, IamTarget, token_lifetime

__all__ = ["IamAuthPlugin", "IamTarget", "token_lifetime"]
