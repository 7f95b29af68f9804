"""The cheap metadata of ``bg`` (entry-point group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugin's, to learn its code, weight and properties; a
connection that does not select ``bg`` never imports the plugin. The plugin class takes its
class attributes from here, so the two cannot disagree. Data only: it imports nothing heavy.
"""

from __future__ import annotations

from sturdydb import PluginInfo
from sturdydb_blue_green.settings import CODE, PROPERTIES

__all__ = ["BG"]

BG = PluginInfo(
    code=CODE,
    # The reference's weight: inside failover (400) and host monitoring (500), so failover's
    # reconnects go through this plugin's routing and see the errors it raises as its own
    # outcome (failover leaves sturdydb's failover errors alone); outside the auth plugins.
    weight=550,
    properties=PROPERTIES,
)
