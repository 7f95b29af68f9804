"""The four DB-API drivers a scenario can run through (the pytest side is ``every_driver`` and
the ``driver`` fixture in :mod:`sturdydb_testing.pytest_plugin`).

A scenario written once against :class:`Driver` runs through psycopg 3 and psycopg2 on the
PostgreSQL cluster and through mysql-connector-python and PyMySQL on the MariaDB one, instead
of being copied per driver. The drivers are imported only when a test asks for their connect
function, so this module costs nothing to the tests that use one engine or none.

:func:`default_connect` and :func:`connect_through` are the connect helpers the plugins'
integration scenarios share (each package fixes its own plugin list and defaults).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import sturdydb

if TYPE_CHECKING:
    from sturdydb_testing.cluster import Cluster, Instance

__all__ = ["DEFAULT_DRIVERS", "DRIVERS", "Driver", "connect_through", "default_connect"]


@dataclass(frozen=True)
class Driver:
    """One DB-API driver of one engine, as a scenario uses it.

    ``name`` is the name of sturdydb's driver dialect for it (``conn.context.driver.name``);
    ``options`` are the keyword arguments the test suite always passes to it (mysql-connector
    runs in its pure-Python mode, whose sockets the fault proxy and the abort path see).
    """

    name: str
    engine: str
    module: str
    function: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: Whether the default cursor leaves an unread result on the server (mysql-connector's
    #: does; psycopg, psycopg2 and PyMySQL read the whole result first).
    streams_results: bool = False
    #: The dotted name of the driver's unbuffered cursor class, where it is not the default.
    unbuffered_cursor: str = ""

    @property
    def connect(self) -> Callable[..., Any]:
        """The driver's connect function (the driver is imported on first use)."""
        target: Any = importlib.import_module(self.module)
        for part in self.function.split("."):
            target = getattr(target, part)
        return target  # type: ignore[no-any-return]

    def streaming_cursor(self, conn: Any, name: str) -> Any:
        """A cursor of ``conn`` whose fetches read from the server: a named (server-side)
        cursor on PostgreSQL, an unbuffered one on MariaDB."""
        if self.engine == "pg":
            return conn.cursor(name)
        if self.unbuffered_cursor:
            module, _, cls = self.unbuffered_cursor.rpartition(".")
            return conn.cursor(getattr(importlib.import_module(module), cls))
        return conn.cursor()  # the driver's default cursor is unbuffered

    def buffered_cursor_options(self) -> dict[str, Any]:
        """``cursor()`` arguments that give a cursor holding its whole result in memory."""
        return {"buffered": True} if self.streams_results else {}

    @property
    def short_name(self) -> str:
        """The name in test ids (``mysql-connector`` for mysql-connector-python)."""
        return self.name.removesuffix("-python")

    def __str__(self) -> str:
        return self.name


DRIVERS: tuple[Driver, ...] = (
    Driver("psycopg", "pg", "psycopg", "Connection.connect"),
    Driver("psycopg2", "pg", "psycopg2", "connect"),
    Driver("mysql-connector-python", "mysql", "mysql.connector", "connect", MappingProxyType({"use_pure": True}),
           streams_results=True),
    Driver("pymysql", "mysql", "pymysql", "connect", unbuffered_cursor="pymysql.cursors.SSCursor"),
)

#: The driver each engine's scenarios use when a test does not ask for a particular one.
DEFAULT_DRIVERS: Mapping[str, Driver] = MappingProxyType({"pg": DRIVERS[0], "mysql": DRIVERS[2]})


def default_connect(cluster: Cluster) -> Callable[..., Any]:
    """The connect function of the cluster engine's default driver (psycopg, mysql-connector)."""
    return DEFAULT_DRIVERS[cluster.engine].connect


def connect_through(
    cluster: Cluster, host: Instance | str | None = None, *, driver: Driver | None = None,
    defaults: Mapping[str, Any] | None = None, **props: Any,
) -> sturdydb.Connection:
    """A sturdydb connection to ``host`` (default: the cluster endpoint) through ``driver``
    (default: the engine's default driver); checks that sturdydb took the driver for what it is.
    Properties: a 60 s failover and 3 s connect timeout, then a scenario's ``defaults`` (its
    plugin list, ...), the driver's options, then ``props``, each overriding the ones before."""
    driver = driver or DEFAULT_DRIVERS[cluster.engine]
    assert driver.engine == cluster.engine
    options: dict[str, Any] = {"failover_timeout_sec": 60, "connect_timeout": 3, **(defaults or {}),
                               **driver.options, **props}
    conn = sturdydb.connect(driver.connect, cluster.conninfo(host), **options)
    assert conn.context.driver.name == driver.name
    return conn
