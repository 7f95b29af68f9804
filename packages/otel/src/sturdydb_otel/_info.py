"""The cheap metadata of ``otel`` (entry-point group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugin's, to learn the plugin's code and weight; a
connection that does not select ``otel`` never imports the plugin, nor OpenTelemetry's API
(tens of milliseconds at a cold start). The plugin class takes its class attributes from
here, so the two cannot disagree. Data only: it imports nothing heavy.
"""

from __future__ import annotations

from sturdydb import PluginInfo

__all__ = ["OTEL"]

#: Outermost of the usual chain (weight 10): it sees failover's errors and every reconnect.
#: The plugin contributes no properties and no presets.
OTEL = PluginInfo(code="otel", weight=10)
