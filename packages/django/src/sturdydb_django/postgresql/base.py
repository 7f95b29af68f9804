"""``ENGINE: "sturdydb_django.postgresql"``: Django's PostgreSQL backend through sturdydb.

Django's backend runs on psycopg 3 when it is installed and on psycopg2 otherwise (Django
decides once, at import); this backend follows the same choice. Django calls
``Database.connect(**params)``; here ``Database`` is that driver's module with ``connect``
going through :func:`sturdydb.connect`, so ``OPTIONS`` reaches sturdydb (which keeps its own
properties and hands the rest, with Django's ``cursor_factory`` and, on psycopg 3, ``context``,
to the driver). The error classes are the driver's, so Django maps sturdydb's failover errors
(also the driver's ``OperationalError``) to ``django.db.OperationalError``.

psycopg 3: not supported is ``OPTIONS["pool"]`` (Django's own psycopg_pool: sturdydb
connections are not ``psycopg.Connection`` objects). Named cursors (``QuerySet.iterator()``)
use psycopg's server-side cursors with server-side binding, as with
``OPTIONS["server_side_binding"]``.

psycopg2: Django registers a JSONB caster on the connection and sets each cursor's
``tzinfo_factory``; both belong to one physical connection or cursor, and a failover replaces
them. So the backend does both in the constructors of a psycopg2 connection and cursor class
of its own (``connection_factory`` and ``cursor_factory``), which every physical connection and
cursor sturdydb opens goes through.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base as pg_base
from django.db.backends.postgresql.psycopg_any import IsolationLevel, is_psycopg3

import sturdydb
from sturdydb_django._common import is_usable

__all__ = ["DatabaseWrapper"]


class _SturdyDatabase:
    """The ``Database`` module Django's backend uses (psycopg or psycopg2), with ``connect``
    through sturdydb."""

    def __init__(self) -> None:
        self._module = pg_base.Database

    def connect(self, conninfo: str = "", **kwargs: Any) -> sturdydb.Connection:
        module = self._module
        target = module.Connection.connect if is_psycopg3 else module.connect
        return sturdydb.connect(target, conninfo, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def _psycopg2_classes(tzinfo_factory: Any) -> tuple[type[Any], type[Any]]:
    """psycopg2 connection and cursor classes doing Django's per-connection and per-cursor setup."""
    import psycopg2.extensions
    import psycopg2.extras

    class _Connection(psycopg2.extensions.connection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # JSONField decodes JSON itself: psycopg2 hands it the text.
            psycopg2.extras.register_default_jsonb(conn_or_curs=self, loads=lambda x: x)

    class _Cursor(pg_base.Cursor):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.tzinfo_factory = tzinfo_factory

    return _Connection, _Cursor


class DatabaseWrapper(pg_base.DatabaseWrapper):  # type: ignore[misc]
    """Django's PostgreSQL ``DatabaseWrapper`` with sturdydb connections."""

    Database = _SturdyDatabase()

    def get_connection_params(self) -> dict[str, Any]:
        if self.settings_dict["OPTIONS"].get("pool"):
            raise ImproperlyConfigured(
                "sturdydb_django.postgresql does not support OPTIONS['pool']: use CONN_MAX_AGE for "
                "persistent connections (sturdydb keeps them on the writer through a failover)"
            )
        params: dict[str, Any] = super().get_connection_params()
        if not is_psycopg3:
            connection_class, cursor_class = _psycopg2_classes(self.tzinfo_factory if settings.USE_TZ else None)
            params.setdefault("connection_factory", connection_class)
            if params.get("cursor_factory") is pg_base.Cursor:
                params["cursor_factory"] = cursor_class
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        if is_psycopg3:
            return super().get_new_connection(conn_params)
        # psycopg2: Django's steps, except the JSONB registration its connection class made.
        level = self.settings_dict["OPTIONS"].get("isolation_level")
        try:
            self.isolation_level = IsolationLevel.READ_COMMITTED if level is None else IsolationLevel(level)
        except ValueError:
            raise ImproperlyConfigured(
                f"Invalid transaction isolation level {level} specified. Use one of the "
                "psycopg2.extensions.ISOLATION_LEVEL_* values."
            ) from None
        connection = self.Database.connect(**conn_params)
        if level is not None:
            connection.isolation_level = self.isolation_level
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        if not is_psycopg3:
            # The cursor class sets tzinfo_factory; a named cursor is the connection's own.
            if name:
                return self.connection.cursor(name, scrollable=False, withhold=self.connection.autocommit)
            return self.connection.cursor()
        if not name:
            return super().create_cursor()
        # Django's ServerSideCursor class would be built around the physical psycopg
        # connection behind sturdydb's back; the connection's own named cursor goes through it.
        cursor = self.connection.cursor(name, scrollable=False, withhold=self.connection.autocommit)
        tzloader = self.connection.adapters.get_loader(pg_base.TIMESTAMPTZ_OID, pg_base.Format.TEXT)
        if self.timezone != tzloader.timezone:
            pg_base.register_tzloader(self.timezone, cursor)
        return cursor

    def is_usable(self) -> bool:
        return is_usable(self.connection, pg_base.Database.Error)
