"""``postgresql+sturdydb_psycopg2://``: SQLAlchemy's psycopg2 dialect with connections opened by sturdydb.

psycopg2 registers some type casters per physical connection (UUID, hstore, and json when
the engine has a ``json_deserializer``), and its registration functions accept only a real
psycopg2 connection. SQLAlchemy does that in the pool's connect event, once per pooled DBAPI
connection; but sturdydb's connection changes its physical connection on failover, and a new
one would come without them (a UUID column would then read back as ``str``). So the casters
are registered by a psycopg2 connection class of the dialect's own (``connection_factory``),
in every physical connection's constructor, the ones failover opens included.

``readonly`` and ``deferrable`` go through sturdydb's ``read_only`` (carried over a failover)
and the current physical connection (a per-transaction setting SQLAlchemy sets each time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2

from sturdydb_sqlalchemy._common import SturdyDialectMixin, physical

__all__ = ["SturdyPsycopg2Dialect", "dialect"]



class SturdyPsycopg2Dialect(SturdyDialectMixin, PGDialect_psycopg2):
    """PostgreSQL through psycopg2 and sturdydb (``postgresql+sturdydb_psycopg2://``)."""

    driver = "sturdydb_psycopg2"
    supports_statement_cache = True

    @classmethod
    def _sturdydb_target(cls) -> Callable[..., Any]:
        import psycopg2

        return psycopg2.connect

    def on_connect(self) -> Any:
        # Done by the connection class instead (see the module docstring).
        return None

    def _connection_class(self) -> type[Any]:
        """A psycopg2 connection class that runs SQLAlchemy's per-connection setup on itself."""
        found: type[Any] | None = self.__dict__.get("_sturdydb_connection_class")
        if found is not None:
            return found
        import psycopg2.extensions

        setup = PGDialect_psycopg2.on_connect(self)  # type: ignore[no-untyped-call]

        class _SetUpConnection(psycopg2.extensions.connection):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                if setup is not None:
                    setup(self)
                    if not self.autocommit:
                        self.rollback()  # the hstore lookup's transaction: leave the connection idle

        self.__dict__["_sturdydb_connection_class"] = _SetUpConnection
        return _SetUpConnection

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        if "connection_factory" not in cparams:
            cparams["connection_factory"] = self._connection_class()
        return super().connect(*cargs, **cparams)

    def set_readonly(self, connection: Any, value: bool) -> None:
        connection.read_only = value  # sturdydb's: applied to psycopg2 and carried over a failover

    def get_readonly(self, connection: Any) -> Any:
        return connection.read_only

    def set_deferrable(self, connection: Any, value: bool) -> None:
        physical(connection).deferrable = value

    def get_deferrable(self, connection: Any) -> Any:
        return physical(connection).deferrable


dialect = SturdyPsycopg2Dialect
