"""sturdydb-iam: RDS/Aurora IAM database authentication for sturdydb.

``plugins="iam"`` makes every physical connection (the application's, and the ones failover
or monitoring open) log in with an IAM token instead of a password. Tokens are made locally
by boto3's RDS signer and cached, so a connect with a cached token costs no AWS work at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sturdydb.plugin_api import lazy_exports

if TYPE_CHECKING:
    from sturdydb_iam.plugin import IamAuthPlugin, IamTarget, token_lifetime

#: What this package exports, and the module each name lives in. Imported on first use, not
#: here: the plugin catalog reads this distribution's cheap ``_info`` module without importing
#: the plugin (see sturdydb's PluginInfo), so importing the package must stay cheap.
_LAZY: dict[str, str] = {
    "IamAuthPlugin": "sturdydb_iam.plugin",
    "IamTarget": "sturdydb_iam.plugin",
    "token_lifetime": "sturdydb_iam.plugin",
}


__getattr__ = lazy_exports(globals(), _LAZY)


__all__ = ["IamAuthPlugin", "IamTarget", "token_lifetime"]
