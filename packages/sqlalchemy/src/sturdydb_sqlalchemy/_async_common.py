"""What the async sturdydb dialects add to SQLAlchemy's asyncio machinery.

SQLAlchemy runs an async driver through an adapter (``AsyncAdapt_dbapi_connection``) that
gives the sync dialect code a DB-API connection and awaits the driver's coroutines inside
the engine's greenlet. Here the adapted "driver connection" is a
:class:`sturdydb.AsyncConnection` (from :func:`sturdydb.connect_async`), so every awaited
``execute``/``fetch*``/``commit`` goes through sturdydb's plugins.

The failover rule (``is_disconnect``) and the pre-ping rule are the sync mixin's, unchanged:
the adapters re-raise the driver's (and sturdydb's) exceptions as they are, so the same
classification applies. Two things differ from sync:

- ``connect`` awaits :func:`sturdydb.connect_async` and wraps the result in the dialect's
  adapter class;
- ``driver_connection`` is the driver's *current* async connection behind the sturdydb
  connection (``psycopg.TypeInfo.fetch`` and ``register_hstore`` need the real object).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.util.concurrency import await_

import sturdydb

__all__ = ["SturdyAsyncDialectMixin", "current_driver_connection"]


def current_driver_connection(adapted: Any) -> Any:
    """The driver's current connection behind an adapted sturdydb async connection.

    Looked up at each call: a failover replaces the physical connection.
    """
    inner = getattr(adapted, "_connection", adapted)
    return getattr(inner, "target_connection", inner)


class SturdyAsyncDialectMixin:
    """Open adapted DBAPI connections through :func:`sturdydb.connect_async`.

    Mixed in before :class:`~sturdydb_sqlalchemy._common.SturdyDialectMixin` (whose
    ``create_connect_args``, ``is_disconnect`` and ``do_ping`` it keeps).
    """

    #: The SQLAlchemy adapter class that wraps the sturdydb async connection.
    _sturdydb_adapter: Any

    @classmethod
    def _sturdydb_async_target(cls) -> Callable[..., Any]:
        raise NotImplementedError

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        """An adapted :class:`sturdydb.AsyncConnection` (runs inside the engine's greenlet).

        ``cparams`` are the URL's parts and query plus ``connect_args``, as in sync. With
        ``create_async_engine(..., async_creator=...)`` the creator's connection is adapted
        as it is (make it return :func:`sturdydb.connect_async`'s connection).
        """
        if len(cargs) > 1:
            raise TypeError(f"{type(self).__name__}.connect() got {len(cargs)} positional arguments; "
                            "pass connection properties as keywords (connect_args)")
        creator = cparams.pop("async_creator_fn", None)
        dbapi: Any = self.loaded_dbapi  # type: ignore[attr-defined]
        if creator is not None:
            opening = creator(*cargs, **cparams)
        else:
            conninfo = cargs[0] if cargs else ""
            opening = sturdydb.connect_async(self._sturdydb_async_target(), conninfo, **cparams)
        return await_(self._sturdydb_adapter.create(dbapi, opening))

    def get_driver_connection(self, connection: Any) -> Any:
        """The driver's *current* async connection (not sturdydb's wrapper); anything done on
        it directly bypasses the plugins and does not survive a failover."""
        return current_driver_connection(connection)

    @classmethod
    def get_async_dialect_cls(cls, url: Any) -> Any:
        return cls
