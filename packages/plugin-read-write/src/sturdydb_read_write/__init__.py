"""sturdydb-read-write: read/write splitting as sturdydb plugins, with internal pools.

Two plugins, published in the ``sturdydb.plugins`` entry-point group:

- ``read_write_splitting`` (weight 300): ``conn.read_only = True`` moves the connection's
  work to a reader of the cluster topology chosen by ``reader_host_selector_strategy``,
  ``False`` moves it back to the writer (:mod:`sturdydb_read_write.plugin`);
- ``srw`` (weight 310): the same between ``srw_read_endpoint`` and ``srw_write_endpoint``,
  without topology (:mod:`sturdydb_read_write.simple`).

Both share the switching logic (:mod:`sturdydb_read_write.switching`) and, with
``read_write_pools``, the process-wide pools (:mod:`sturdydb_read_write.pools`). Nothing here
starts a thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sturdydb.plugin_api import lazy_exports

if TYPE_CHECKING:
    from sturdydb_read_write.errors import ReadWriteSplittingError
    from sturdydb_read_write.plugin import ReadWriteSplittingPlugin
    from sturdydb_read_write.pools import ConnectionPools, connection_pools
    from sturdydb_read_write.simple import SimpleReadWriteSplittingPlugin

#: What this package exports, and the module each name lives in (imported on first use, so
#: that the catalog's read of the cheap ``_info`` module does not import the plugins).
_LAZY: dict[str, str] = {
    "ConnectionPools": "sturdydb_read_write.pools",
    "ReadWriteSplittingError": "sturdydb_read_write.errors",
    "ReadWriteSplittingPlugin": "sturdydb_read_write.plugin",
    "SimpleReadWriteSplittingPlugin": "sturdydb_read_write.simple",
    "connection_pools": "sturdydb_read_write.pools",
}

__getattr__ = lazy_exports(globals(), _LAZY)

__all__ = [
    "ConnectionPools",
    "ReadWriteSplittingError",
    "ReadWriteSplittingPlugin",
    "SimpleReadWriteSplittingPlugin",
    "connection_pools",
]
