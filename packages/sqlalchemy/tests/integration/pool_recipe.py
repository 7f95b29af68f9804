"""The psycopg_pool recipes of docs/frameworks-pools.md (sync and async), verbatim (the tests import
them from here)."""

from __future__ import annotations

from typing import Any

import psycopg

import sturdydb


class SturdyPoolConnection(sturdydb.Connection):
    """A sturdydb connection that psycopg_pool can manage (``connection_class=``).

    The pool opens connections with ``connection_class.connect(conninfo, **kwargs)`` and keeps
    its bookkeeping in attributes of the connection (``_pool``, ``_expire_at``...), which this
    subclass (without ``__slots__``) can hold. ``kwargs`` carry sturdydb properties. And
    ``pool.connection()`` runs ``with conn``, which closes a sturdydb connection: like
    psycopg's own connection, one that belongs to a pool only ends its transaction there
    (otherwise the pool would discard and reopen a connection at every checkout).
    """

    @classmethod
    def connect(cls, conninfo: str = "", *args: Any, **kwargs: Any) -> SturdyPoolConnection:  # type: ignore[override]
        opened = sturdydb.connect(psycopg.Connection.connect, conninfo, **kwargs)
        return cls(opened.context)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if getattr(self, "_pool", None) is None:
            super().__exit__(exc_type, exc, tb)
        elif not self.closed:
            self.commit() if exc_type is None else self.rollback()


class SturdyAsyncPoolConnection(sturdydb.AsyncConnection):
    """A sturdydb async connection that psycopg_pool's ``AsyncConnectionPool`` can manage.

    ``sturdydb.AsyncConnection`` itself cannot be a ``connection_class``: the pool awaits
    ``connection_class.connect(conninfo, **kwargs)`` (a classmethod it does not have) and sets
    ``_pool``, ``_created_at`` and ``_expire_at`` on each connection (its ``__slots__`` refuse
    them). This subclass has both; ``kwargs`` carry sturdydb properties. And
    ``pool.connection()`` runs ``async with conn``, which closes a sturdydb connection: like
    psycopg's own connection, one that belongs to a pool only ends its transaction there
    (otherwise the pool would discard and reopen a connection at every checkout).
    """

    @classmethod
    async def connect(cls, conninfo: str = "", **kwargs: Any) -> SturdyAsyncPoolConnection:
        opened = await sturdydb.connect_async(psycopg.AsyncConnection.connect, conninfo, **kwargs)
        return cls(opened.context)

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if getattr(self, "_pool", None) is None:
            await super().__aexit__(exc_type, exc, tb)
        elif not self.closed:
            await (self.commit() if exc_type is None else self.rollback())
