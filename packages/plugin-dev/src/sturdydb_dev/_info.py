"""The cheap metadata of ``dev`` (entry-point group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugin's, to learn the plugin's code and weight; a
connection that does not select ``dev`` never imports it. The plugin class takes its class
attributes from here, so the two cannot disagree. Data only: it imports nothing heavy.
"""

from __future__ import annotations

from sturdydb import PluginInfo

__all__ = ["DEV"]

#: Innermost but for the core's ``socket_timeout``: an injected error looks to every other
#: plugin like one the driver raised. No properties, no presets.
DEV = PluginInfo(code="dev", weight=90_000)
