"""The cheap metadata of ``federated_auth`` and ``okta`` (entry-point group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugins': a connection that selects neither never
imports them (nor boto3). The plugin classes take their attributes from here.
"""

from __future__ import annotations

from sturdydb import PluginInfo
from sturdydb_federated.properties import PROPERTIES

__all__ = ["FEDERATED_AUTH", "OKTA"]

FEDERATED_AUTH = PluginInfo(code="federated_auth", weight=900, properties=PROPERTIES)
OKTA = PluginInfo(code="okta", weight=1000, properties=PROPERTIES)
