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
