"""The cheap metadata of ``limitless`` (entry-point group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugin's, to learn its code, weight and properties; a
connection that does not select it never imports it. Data only: it imports nothing heavy.
"""

from __future__ import annotations

from sturdydb import PluginInfo
from sturdydb_limitless.settings import CODE, PROPERTIES

__all__ = ["LIMITLESS"]

LIMITLESS = PluginInfo(
    code=CODE,
    # Inside failover (400) and monitoring (500), so a failover reconnect is routed to a router
    # too; outside the auth plugins (700+), so each router connect gets its credentials.
    weight=600,
    properties=PROPERTIES,
)
