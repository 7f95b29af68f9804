"""The cheap metadata of this distribution's plugins (entry-point group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugins', to learn the codes, weights, aliases,
refusals, properties and presets of ``failover`` and ``aurora_connection_tracker``; a
connection that selects neither never imports them. The plugin classes take their class
attributes from here, so the two cannot disagree. Data only: it imports nothing heavy.
"""

from __future__ import annotations

from sturdydb import PluginInfo
from sturdydb_failover import reference
from sturdydb_failover.global_modes import global_properties
from sturdydb_failover.presets import PRESETS
from sturdydb_failover.settings import failover_properties

__all__ = ["FAILOVER", "TRACKER"]

FAILOVER = PluginInfo(
    code="failover",
    weight=400,
    aliases=reference.ALIASES,
    refused_codes=reference.REFUSED_CODES,
    in_default_chain=True,
    properties=(*failover_properties(), *global_properties(), *reference.reference_only_properties()),
    profiles=PRESETS,
)

TRACKER = PluginInfo(code="aurora_connection_tracker", weight=100, in_default_chain=True)
