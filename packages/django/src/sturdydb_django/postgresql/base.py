"""``ENGINE: "sturdydb_django.postgresql"``: Django's PostgreSQL backend (psycopg 3) through sturdydb.

Django calls ``Database.connect(**params)``; here ``Database`` is psycopg with ``connect``
going through :func:`sturdydb.connect`, so ``OPTIONS`` reaches sturdydb (which keeps its own
properties and hands the rest, with Django's ``cursor_factory`` and ``context``, to psycopg).
The error classes are psycopg's, so Django maps sturdydb's failover errors (also
``psycopg.OperationalError``) to ``django.db.OperationalError``.

Not supported: ``OPTIONS["pool"]`` (Django's own psycopg_pool: sturdydb connections are not
``psycopg.Connection`` objects). Named cursors (``QuerySet.iterator()``) use psycopg's
server-side cursors with server-side binding, as with ``OPTIONS["server_side_binding"]``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base as pg_base

import sturdydb
from sturdydb_django._common import is_usable

__all__ = ["DatabaseWrapper"]


class _SturdyPsycopg:
    """The ``Database`` module Django's backend uses: psycopg, with ``connect`` through sturdydb."""

    def __init__(self) -> None:
        self._module = psycopg

    def connect(self, conninfo: str = "", **kwargs: Any) -> sturdydb.Connection:
        return sturdydb.connect(psycopg.Connection.connect, conninfo, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


class DatabaseWrapper(pg_base.DatabaseWrapper):  # type: ignore[misc]
    """Django's PostgreSQL ``DatabaseWrapper`` with sturdydb connections."""

    Database = _SturdyPsycopg()

    def get_connection_params(self) -> dict[str, Any]:
        if self.settings_dict["OPTIONS"].get("pool"):
            raise ImproperlyConfigured(
                "sturdydb_django.postgresql does not support OPTIONS['pool']: use CONN_MAX_AGE for "
                "persistent connections (sturdydb keeps them on the writer through a failover)"
            )
        params: dict[str, Any] = super().get_connection_params()
        return params

    def create_cursor(self, name: str | None = None) -> Any:
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
        return is_usable(self.connection, psycopg.Error)
