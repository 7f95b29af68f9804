"""sturdydb-dev: the ``dev`` plugin, test tooling that injects errors (the reference's code).

An application's test suite arms a rule, and the next connect or the next call of a given
DB-API method through a chain that contains ``dev`` raises the chosen error, once or on a
schedule, so the application's own error handling (retry on ``FailoverSuccessError``, give up
on ``FailoverFailedError``, ...) runs without a cluster::

    import sturdydb, sturdydb_dev
    conn = sturdydb.connect(psycopg.Connection.connect, "...", plugins="dev,failover")
    sturdydb_dev.raise_on_next_call(lambda call: call.context.error(sturdydb.FailoverSuccessError,
                                                                     "simulated failover"),
                                    method="Cursor.execute")

Not for production: an armed rule acts on every connection of the process whose chain
contains ``dev`` (or on one connection, with ``connection=``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sturdydb.plugin_api import lazy_exports

if TYPE_CHECKING:
    from sturdydb_dev.plugin import (
        DevPlugin,
        Rule,
        clear,
        raise_on_call,
        raise_on_connect,
        raise_on_next_call,
        raise_on_next_connect,
        rules,
    )

#: What this package exports, and the module each name lives in. Imported on first use, not
#: here: the plugin catalog reads this distribution's cheap ``_info`` module without importing
#: the plugin (see sturdydb's PluginInfo), so importing the package must stay cheap.
_LAZY: dict[str, str] = {
    "DevPlugin": "sturdydb_dev.plugin",
    "Rule": "sturdydb_dev.plugin",
    "clear": "sturdydb_dev.plugin",
    "raise_on_call": "sturdydb_dev.plugin",
    "raise_on_connect": "sturdydb_dev.plugin",
    "raise_on_next_call": "sturdydb_dev.plugin",
    "raise_on_next_connect": "sturdydb_dev.plugin",
    "rules": "sturdydb_dev.plugin",
}

__getattr__ = lazy_exports(globals(), _LAZY)

__all__ = [
    "DevPlugin",
    "Rule",
    "clear",
    "raise_on_call",
    "raise_on_connect",
    "raise_on_next_call",
    "raise_on_next_connect",
    "rules",
]
