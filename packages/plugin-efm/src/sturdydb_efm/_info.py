"""The cheap metadata of ``host_monitoring`` (entry-point group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugin's, to learn its code, weight, aliases and
properties; a connection that does not select it never imports it. The plugin class takes its
class attributes from here, so the two cannot disagree. Data only: it imports nothing heavy.
"""

from __future__ import annotations

from sturdydb import PluginInfo
from sturdydb_efm.settings import CODE, PROPERTIES

__all__ = ["HOST_MONITORING"]

HOST_MONITORING = PluginInfo(
    code=CODE,
    # Inside failover (400), so failover sees the aborted call's network error; outside the
    # auth plugins, as in the reference's default order.
    weight=500,
    aliases=("host_monitoring_v2", "efm"),
    in_default_chain=True,
    properties=PROPERTIES,
)
