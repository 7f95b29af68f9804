"""The psycopg_pool recipe of docs/frameworks-pools.md, verbatim (the test imports it from here)."""

from __future__ import annotations

from typing import Any

import psycopg

import sturdydb


class SturdyPoolConnection(sturdydb.Connection):
    """A sturdydb connection that psycopg_pool can manage (``connection_class=``).

    The pool opens connections with ``connection_class.connect(conninfo, **kwargs)`` and keeps
    its bookkeeping in attributes of the connection (``_pool``, ``_expire_at``...), which this
    subclass (without ``__slots__``) can hold. ``kwargs`` carry sturdydb properties.
    """

    @classmethod
    def connect(cls, conninfo: str = "", *args: Any, **kwargs: Any) -> SturdyPoolConnection:  # type: ignore[override]
        opened = sturdydb.connect(psycopg.Connection.connect, conninfo, **kwargs)
        return cls(opened.context)
