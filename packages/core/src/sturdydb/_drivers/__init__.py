"""Driver dialects and their detection from the connect function the user passes.

Detection never guesses from a substring: ``psycopg2`` contains ``psycopg`` and ``pymysql``
contains ``mysql``, and taking one driver for another fails late and obscurely (an
``AttributeError`` on the first ``execute``). The driver is the top-level package that defines
the connect function, or the connection class it belongs to (any class in its MRO, so a
subclass of ``psycopg.Connection`` defined by the application is still psycopg). Anything else
is refused with the list of supported drivers and how to name one explicitly, unless the
application asks for no plugins at all (``plugins=""``): then :func:`pass_through_dialect`
passes everything to the driver unchanged.

An ``async def`` connect function (``psycopg.AsyncConnection.connect``,
``mysql.connector.aio.connect``) selects the driver's async dialect (:data:`ASYNC_DIALECTS`),
for ``sturdydb.connect_async``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from sturdydb._drivers.base import DriverDialect, SessionState, shutdown_fd
from sturdydb._errors import ConfigurationError

__all__ = [
    "SUPPORTED_DRIVERS",
    "DriverDialect",
    "SessionState",
    "UnknownDriverError",
    "driver_dialect_for",
    "pass_through_dialect",
    "shutdown_fd",
]


class UnknownDriverError(ConfigurationError):
    """The connect function belongs to none of the supported drivers."""

#: Driver package (module prefix) -> driver dialect name, the ``wrapper_driver_dialect`` value.
_PACKAGES: tuple[tuple[str, str], ...] = (
    ("psycopg", "psycopg"),
    ("psycopg2", "psycopg2"),
    ("mysql.connector", "mysql-connector-python"),
    ("pymysql", "pymysql"),
)
#: The supported drivers, as the error message and the documentation list them.
SUPPORTED_DRIVERS: dict[str, str] = {
    "psycopg": "psycopg 3 (psycopg.Connection.connect or psycopg.connect)",
    "psycopg2": "psycopg2 (psycopg2.connect)",
    "mysql-connector-python": "mysql-connector-python (mysql.connector.connect)",
    "pymysql": "PyMySQL (pymysql.connect)",
}

#: Sync driver dialect name -> the name of its async dialect (drivers with an asyncio API).
ASYNC_DIALECTS: dict[str, str] = {
    "psycopg": "psycopg-async",
    "mysql-connector-python": "mysql-connector-aio",
}

_instances: dict[str, DriverDialect] = {}


def _by_name(name: str) -> DriverDialect:
    found = _instances.get(name)
    if found is None:
        if name == "psycopg":
            from sturdydb._drivers.psycopg import PsycopgDialect

            found = PsycopgDialect()
        elif name == "psycopg2":
            from sturdydb._drivers.psycopg2 import Psycopg2Dialect

            found = Psycopg2Dialect()
        elif name == "mysql-connector-python":
            from sturdydb._drivers.mysql import MysqlConnectorDialect

            found = MysqlConnectorDialect()
        elif name == "psycopg-async":
            from sturdydb._drivers.psycopg_async import AsyncPsycopgDialect

            found = AsyncPsycopgDialect()
        elif name == "mysql-connector-aio":
            from sturdydb._drivers.mysql_aio import AsyncMysqlDialect

            found = AsyncMysqlDialect()
        elif name == "pymysql":
            from sturdydb._drivers.pymysql import PyMysqlDialect

            found = PyMysqlDialect()
        else:  # pragma: no cover - the property's choices stop other names earlier
            raise ConfigurationError(f"unknown wrapper_driver_dialect {name!r}; use one of {sorted(SUPPORTED_DRIVERS)}")
        _instances[name] = found
    return found


def _modules(target: Any) -> Iterator[str]:
    """The modules that may tell ``target``'s driver, most specific first."""
    while isinstance(target, functools.partial):
        target = target.func
    owner = getattr(target, "__self__", None)  # a bound method: Connection.connect
    yield getattr(target, "__module__", "") or ""
    classes: list[type] = []
    if isinstance(target, type):
        classes.append(target)
    if owner is not None:
        classes.append(owner if isinstance(owner, type) else type(owner))
    # The classes and their bases: an application's subclass of a driver's connection class.
    for cls in classes:
        for base in cls.__mro__:
            yield getattr(base, "__module__", "") or ""


def _driver_of(module: str) -> str | None:
    for package, name in _PACKAGES:
        if module == package or module.startswith(package + "."):
            return name
    return None


def driver_dialect_for(target: Callable[..., Any], name: str | None = None) -> DriverDialect:
    """The driver dialect for ``target`` (``name`` forces one: ``wrapper_driver_dialect``).

    An ``async def`` target gets the async dialect of its driver.
    """
    if name:
        return _by_name(_async_name(name) if inspect.iscoroutinefunction(target) else name)
    if not callable(target):
        raise ConfigurationError(
            f"the first argument must be the driver's connect function (for example "
            f"psycopg.Connection.connect or mysql.connector.connect), got {target!r}"
        )
    for module in _modules(target):
        found = _driver_of(module)
        if found is not None:
            if inspect.iscoroutinefunction(target):
                found = _async_name(found)
            return _by_name(found)
    supported = "; ".join(SUPPORTED_DRIVERS.values())
    raise UnknownDriverError(
        f"cannot tell which driver {target!r} belongs to (it is defined in "
        f"{getattr(target, '__module__', None)!r}). sturdydb supports {supported}. Pass the "
        "driver's own connect function, or, if this function wraps one of them, set "
        f"wrapper_driver_dialect to one of {', '.join(repr(n) for n in SUPPORTED_DRIVERS)}. "
        "Another driver runs only as a pass-through with no plugins (plugins=\"\")"
    )


def pass_through_dialect(target: Callable[..., Any]) -> DriverDialect:
    """The dialect of a driver sturdydb does not know, for a connection with no plugins."""
    from sturdydb._drivers.passthrough import PassThroughDialect

    return PassThroughDialect(list(_modules(target)))


def _async_name(name: str) -> str:
    found = ASYNC_DIALECTS.get(name)
    if found is None:
        raise ConfigurationError(
            f"{name} has no asyncio API that sturdydb supports; sturdydb.connect_async takes "
            "psycopg.AsyncConnection.connect or mysql.connector.aio.connect"
        )
    return found
