"""The cheap metadata of this distribution's plugins (entry-point group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugins', to learn the codes, weights and properties
of ``read_write_splitting`` and ``srw``; a connection that selects neither never imports them.
The plugin classes take their class attributes from here, so the two cannot disagree. Data
only: it imports nothing heavy.
"""

from __future__ import annotations

from sturdydb import PluginInfo
from sturdydb_read_write.settings import pool_properties, srw_properties

__all__ = ["READ_WRITE_SPLITTING", "SRW"]

#: Outside failover (400), as in the reference: a switch is decided before failover sees the call.
READ_WRITE_SPLITTING = PluginInfo(code="read_write_splitting", weight=300, properties=tuple(pool_properties()))

SRW = PluginInfo(code="srw", weight=310, properties=tuple(srw_properties()))
