"""The cheap metadata of ``custom_endpoint`` (entry-point group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugin's: a connection that does not select
``custom_endpoint`` never imports it (nor boto3). The plugin class takes its attributes from
here. Weight 40, as in the reference wrapper: outside failover, so the members are known before
failover routes the connection.
"""

from __future__ import annotations

from sturdydb import PluginInfo
from sturdydb_custom_endpoint.properties import CODE, PROPERTIES

__all__ = ["CUSTOM_ENDPOINT"]

CUSTOM_ENDPOINT = PluginInfo(code=CODE, weight=40, properties=PROPERTIES)
