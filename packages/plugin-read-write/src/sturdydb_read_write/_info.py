"""The cheap metadata of this distribution's plugins (entry-point group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugins', to learn the codes, weights and properties
of ``read_write_splitting`` and ``srw``; a connection that selects neither never imports them.
The plugin classes take their class attributes from here, so the two cannot disagree. Data
only: it imports nothing heavy.
"""

from __future__ import annotations

from sturdydb import PluginInfo, PropertySpec
from sturdydb_read_write.settings import pool_properties, srw_properties

__all__ = ["GDB_READ_WRITE_SPLITTING", "READ_WRITE_SPLITTING", "SRW"]

#: Outside failover (400), as in the reference: a switch is decided before failover sees the call.
READ_WRITE_SPLITTING = PluginInfo(code="read_write_splitting", weight=300, properties=tuple(pool_properties()))

SRW = PluginInfo(code="srw", weight=310, properties=tuple(srw_properties()))

_GDB = "gdb_rw"
#: Read/write splitting inside the home region of an Aurora Global Database (weight as the reference).
GDB_READ_WRITE_SPLITTING = PluginInfo(code=_GDB, weight=320, properties=(
    PropertySpec("gdb_rw_home_region", str, None,
                 "The application's AWS region (e.g. us-east-1). Unset: the region of the "
                 "connection string's RDS host name; required for a global writer endpoint, an "
                 "IP address or a custom domain.", owner=_GDB),
    PropertySpec("gdb_rw_restrict_writer_to_home_region", bool, True,
                 "Refuse read_only=False (ReadWriteSplittingError) while the global writer is "
                 "outside the home region.", owner=_GDB),
    PropertySpec("gdb_rw_restrict_reader_to_home_region", bool, True,
                 "Choose readers only in the home region; with none there the writer serves reads.",
                 owner=_GDB),
    PropertySpec("gdb_enable_global_write_forwarding", bool, False,
                 "Reference-only: global write forwarding is not supported; true is refused at connect.",
                 owner=_GDB),
))
