"""Driver dialects and their detection from the connect function the user passes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sturdydb._drivers.base import DriverDialect, SessionState, shutdown_fd
from sturdydb._errors import ConfigurationError

__all__ = ["DriverDialect", "SessionState", "driver_dialect_for", "shutdown_fd"]

_instances: dict[str, DriverDialect] = {}


def _by_name(name: str) -> DriverDialect:
    found = _instances.get(name)
    if found is None:
        if name == "psycopg":
            from sturdydb._drivers.psycopg import PsycopgDialect

            found = PsycopgDialect()
        elif name == "mysql-connector-python":
            from sturdydb._drivers.mysql import MysqlConnectorDialect

            found = MysqlConnectorDialect()
        else:  # pragma: no cover - the property's choices stop other names earlier
            raise ConfigurationError(f"unknown wrapper_driver_dialect {name!r}")
        _instances[name] = found
    return found


def driver_dialect_for(target: Callable[..., Any], name: str | None = None) -> DriverDialect:
    """The driver dialect for ``target`` (``name`` forces one: ``wrapper_driver_dialect``)."""
    if name:
        return _by_name(name)
    if not callable(target):
        raise ConfigurationError(
            f"the first argument must be the driver's connect function (for example "
            f"psycopg.Connection.connect or mysql.connector.connect), got {target!r}"
        )
    module = getattr(target, "__module__", "") or ""
    owner = getattr(getattr(target, "__self__", None), "__module__", "") or ""
    text = f"{module} {owner} {getattr(target, '__qualname__', '')}"
    if "psycopg" in text:
        return _by_name("psycopg")
    if "mysql" in text:
        return _by_name("mysql-connector-python")
    raise ConfigurationError(
        f"cannot tell which driver {target!r} belongs to; sturdydb supports psycopg 3 "
        "(psycopg.Connection.connect) and mysql-connector-python (mysql.connector.connect). "
        "Set wrapper_driver_dialect='psycopg' or 'mysql-connector-python' if it wraps one of them"
    )
