"""What both sturdydb dialects add to SQLAlchemy's own driver dialects.

The dialects subclass SQLAlchemy's psycopg and mysql-connector dialects, so SQL compilation,
types, reflection and result handling are exactly SQLAlchemy's. This mixin changes only how
a DBAPI connection is opened (through :func:`sturdydb.connect`, with the URL query and
``connect_args`` as sturdydb properties), how an error is classified for the pool
(``is_disconnect``, and which connections a disconnect recycles) and what a pre-ping or a
rollback does after a failover.

Why these choices for ``is_disconnect``:

- :class:`sturdydb.FailoverSuccessError` (08S02): the pooled DBAPI connection already holds
  a new physical connection to the new writer and the interrupted call changed nothing.
  Invalidating it would throw away a good connection and, because SQLAlchemy invalidates
  the whole pool on a disconnect, every other pooled connection too. So it is *not* a
  disconnect: SQLAlchemy raises ``OperationalError`` and the connection stays in the pool.
- :class:`sturdydb.FailoverFailedError` (08001): no writer could be reached; the connection
  is unusable. A disconnect.
- :class:`sturdydb.TransactionResolutionUnknownError` (08007, and its
  :class:`sturdydb.StatementOutcomeUnknownError` subclass): the connection is on the new
  writer, but what the interrupted unit of work did is unknown. It is invalidated, so that
  nothing of that session (open transaction state, session variables that were not carried
  over) leaks into the next unit of work: the pool opens a fresh connection, which
  sturdydb routes straight to the verified writer. Only *that* connection: SQLAlchemy's
  default on a disconnect is to recycle the whole pool, but every other pooled connection
  either failed over already or fails over by itself at its next call (with
  ``aurora_connection_tracker`` sturdydb also aborts the connections to the old writer once
  the new one is verified). Recycling them would
  throw away connections that sturdydb has just moved to the new writer and make every
  worker open one more, which after a failover is most of the time the application waits
  (measured: the same ORM episode resumed after a median of 0.28 to 0.72 s with the pool
  recycled; see BENCHMARKS.md). A :class:`sturdydb.FailoverFailedError` still recycles the
  pool: no writer was reachable, so no pooled connection is presumed good.
- Anything else: SQLAlchemy's own rule for the driver.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sturdydb

__all__ = ["SturdyDialectMixin", "is_sturdydb_disconnect", "keep_the_pool", "physical"]

log = logging.getLogger("sturdydb_sqlalchemy")

#: The failover outcomes after which the pooled connection must not be reused.
_INVALIDATING: tuple[type[BaseException], ...] = (
    sturdydb.FailoverFailedError,
    sturdydb.TransactionResolutionUnknownError,
)


def physical(dbapi_connection: Any) -> Any:
    """The driver connection behind a sturdydb connection (or the connection itself), looked up
    at the moment of the call because a failover replaces it."""
    return getattr(dbapi_connection, "target_connection", dbapi_connection)


def is_sturdydb_disconnect(error: BaseException) -> bool | None:
    """``True``/``False`` for sturdydb's failover outcomes, ``None`` for any other error.

    ``None`` means "not ours: ask the driver dialect". Exposed so that applications with a
    custom ``handle_error`` event can apply the same rule.
    """
    if isinstance(error, sturdydb.FailoverSuccessError):
        return False
    if isinstance(error, _INVALIDATING):
        return True
    return None


def keep_the_pool(context: Any) -> None:
    """A ``handle_error`` listener: an unknown-outcome error invalidates its own connection only
    (``invalidate_pool_on_disconnect = False``; see the module docstring)."""
    if isinstance(context.original_exception, sturdydb.TransactionResolutionUnknownError):
        context.invalidate_pool_on_disconnect = False


class SturdyDialectMixin:
    """Open DBAPI connections through sturdydb; classify failover errors for the pool.

    Mixed in before SQLAlchemy's driver dialect (``class X(SturdyDialectMixin, PGDialect_psycopg)``).
    """

    #: The driver's connect function that sturdydb wraps (set by each dialect).
    @classmethod
    def _sturdydb_target(cls) -> Callable[..., Any]:
        raise NotImplementedError

    def create_connect_args(self, url: Any) -> Any:
        """The driver dialect's arguments, with ``sturdydb_plugins`` renamed to ``plugins``.

        SQLAlchemy itself removes a ``plugins`` (and ``plugin``) query parameter from every URL
        (it names SQLAlchemy's own engine plugins), so the plugin list is spelled
        ``sturdydb_plugins`` in a URL, or ``plugins`` in ``connect_args``.
        """
        cargs, cparams = super().create_connect_args(url)  # type: ignore[misc]
        if "sturdydb_plugins" in cparams:
            cparams["plugins"] = cparams.pop("sturdydb_plugins")
        return cargs, cparams

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        """A :class:`sturdydb.Connection` (SQLAlchemy's DBAPI connection for this dialect).

        ``cparams`` are the URL's parts and query plus ``connect_args``: sturdydb takes its own
        and its plugins' properties and hands the rest to the driver; a name nobody declares
        gets sturdydb's ``UnknownPropertyWarning`` and the driver's own error.
        """
        conninfo = cargs[0] if cargs else ""
        if len(cargs) > 1:
            raise TypeError(f"{type(self).__name__}.connect() got {len(cargs)} positional arguments; "
                            "pass connection properties as keywords (connect_args)")
        return sturdydb.connect(self._sturdydb_target(), conninfo, **cparams)

    @classmethod
    def engine_created(cls, engine: Any) -> None:
        """Install :func:`keep_the_pool` on every engine of a sturdydb dialect, first in line.

        Any dialect event listener makes SQLAlchemy walk the dialect's (empty) ``do_execute``
        listeners on every statement, 3.5 k client instructions per Core select (about 1.4 %
        of it on PostgreSQL), because the listener sets the dialect's ``_has_events`` flag.
        ``keep_the_pool`` only matters after an unknown-outcome error, so the flag is put back
        until :meth:`is_disconnect` sees the first one and raises it again: SQLAlchemy asks
        ``is_disconnect`` before it checks the flag to run the ``handle_error`` listeners, so
        that first error is handled as well. Installed here, at creation, the listener runs
        before any the application adds (one that raises its own exception stops the others),
        and raising the flag later is one attribute store, safe from any thread. Done only
        when nothing else listens on the dialect's class (an instance flag would hide it).
        """
        from sqlalchemy import event

        super().engine_created(engine)  # type: ignore[misc]
        dialect = engine.dialect
        quiet = not getattr(type(dialect), "_has_events", True) and not getattr(dialect, "_has_events", True)
        event.listen(engine, "handle_error", keep_the_pool)
        if quiet:
            dialect._has_events = False
            dialect._sturdydb_events_deferred = True

    def is_disconnect(self, e: Any, connection: Any, cursor: Any) -> bool:
        verdict = is_sturdydb_disconnect(e)
        if verdict is not None:
            if verdict and isinstance(e, sturdydb.TransactionResolutionUnknownError) \
                    and getattr(self, "_sturdydb_events_deferred", False):
                self._has_events = True  # from now on SQLAlchemy runs keep_the_pool (see engine_created)
            return verdict
        return bool(super().is_disconnect(e, connection, cursor))  # type: ignore[misc]

    def do_ping(self, dbapi_connection: Any) -> bool:
        """SQLAlchemy's ping; a ping that failed over is a success (the connection was replaced
        by one to the new writer, and a ping changes nothing)."""
        try:
            return self._sturdydb_ping(dbapi_connection)
        except sturdydb.FailoverSuccessError as exc:
            log.info("pool pre-ping failed over; the pooled connection now goes to the new writer (%s)", exc)
            return True

    def do_rollback(self, dbapi_connection: Any) -> None:
        """SQLAlchemy's rollback; a rollback that failed over is a success.

        The pool rolls back every connection it takes back (``reset_on_return``), so a pooled
        connection that was idle on the old writer meets the failover here. The rollback's
        purpose is met: the new physical connection has no transaction, and the old one's
        was never committed. Raising would make the pool log the error and discard the
        connection that sturdydb has just moved to the new writer, so that the next checkout
        opens another one.
        """
        try:
            super().do_rollback(dbapi_connection)  # type: ignore[misc]
        except sturdydb.FailoverSuccessError as exc:
            log.info("rollback failed over; nothing was committed and the connection now goes to the "
                     "new writer (%s)", exc)

    def _sturdydb_ping(self, dbapi_connection: Any) -> bool:
        return bool(super().do_ping(dbapi_connection))  # type: ignore[misc]

    def get_driver_connection(self, connection: Any) -> Any:
        """The driver's *current* physical connection behind a sturdydb connection.

        SQLAlchemy 2 looks this up on every access of ``driver_connection`` (it is not cached
        in the pool), which matters: a failover replaces the physical connection. Code that
        needs the driver's own object (``psycopg.TypeInfo.fetch``, ``register_hstore``) gets a
        real driver connection; anything done on it bypasses sturdydb's plugins and does not
        survive a failover.
        """
        return physical(connection)

    @classmethod
    def get_async_dialect_cls(cls, url: Any) -> Any:
        """``create_async_engine`` with the sync scheme picks the ``sturdydb_async`` variant."""
        from sqlalchemy.dialects import registry

        return registry.load(f"{cls.name}.sturdydb_async")  # type: ignore[attr-defined]
