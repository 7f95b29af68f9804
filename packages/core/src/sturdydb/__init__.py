"""sturdydb: a plugin pipeline around your DB-API driver that survives cluster events.

Use it like the driver itself::

    import psycopg, sturdydb
    conn = sturdydb.connect(psycopg.Connection.connect, "host=... dbname=app", plugins="failover")

The module is a PEP 249 module: ``connect``, ``apilevel``, ``threadsafety``, ``paramstyle``
and the exception classes. Nothing here starts a thread or opens a connection at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sturdydb._addresses import PinnedAddress, map_host, mapped_hosts, resolve_host, unmap_host
from sturdydb._config import NoEffectPropertyWarning, UnknownPropertyWarning
from sturdydb._connection import AwsWrapperConnection, Connection, Cursor, connect
from sturdydb._context import Call, ConnectionContext, ConnectRequest
from sturdydb._discovery import catalog, register_plugin, reload_catalog, unregister_plugin
from sturdydb._errors import (
    ConfigurationError,
    DatabaseError,
    DataError,
    Error,
    FailoverError,
    FailoverFailedError,
    FailoverSuccessError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    QueryTimeoutError,
    StatementOutcomeUnknownError,
    TransactionResolutionUnknownError,
    Warning,  # noqa: A004 - PEP 249 requires the module to export Warning
)
from sturdydb._hosts import HostAvailability, HostInfo, HostRole
from sturdydb._plugin import Plugin, PluginInfo
from sturdydb._profiles import Profile, register_profile, unregister_profile
from sturdydb._properties import PropertySpec
from sturdydb._registry import register_process_state, reset_process_state
from sturdydb._resources import on_release, release_resources
from sturdydb.hookspecs import hookimpl, hookspec

if TYPE_CHECKING:
    from sturdydb._async_connection import AsyncConnection, AsyncCursor

__version__ = "0.1.0"

apilevel = "2.0"
threadsafety = 2
paramstyle = "pyformat"

__all__ = [
    "AsyncConnection",
    "AsyncCursor",
    "AwsWrapperConnection",
    "Call",
    "ConfigurationError",
    "ConnectRequest",
    "Connection",
    "ConnectionContext",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Error",
    "FailoverError",
    "FailoverFailedError",
    "FailoverSuccessError",
    "HostAvailability",
    "HostInfo",
    "HostRole",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NoEffectPropertyWarning",
    "NotSupportedError",
    "OperationalError",
    "PinnedAddress",
    "Plugin",
    "PluginInfo",
    "Profile",
    "ProgrammingError",
    "PropertySpec",
    "QueryTimeoutError",
    "StatementOutcomeUnknownError",
    "TransactionResolutionUnknownError",
    "UnknownPropertyWarning",
    "Warning",
    "apilevel",
    "catalog",
    "connect",
    "connect_async",
    "hookimpl",
    "hookspec",
    "map_host",
    "mapped_hosts",
    "on_release",
    "paramstyle",
    "register_plugin",
    "register_process_state",
    "register_profile",
    "release_resources",
    "reload_catalog",
    "reset_process_state",
    "resolve_host",
    "threadsafety",
    "unmap_host",
    "unregister_plugin",
    "unregister_profile",
]


async def connect_async(target_connect: Any, conninfo: str = "", **kwargs: Any) -> AsyncConnection:
    """Open an async connection (``psycopg.AsyncConnection.connect``, ``mysql.connector.aio.connect``).

    See :func:`sturdydb._async_connection.connect_async`; imported on first use so that
    ``import sturdydb`` does not import asyncio.
    """
    from sturdydb._async_connection import connect_async as impl

    return await impl(target_connect, conninfo, **kwargs)


def __getattr__(name: str) -> Any:
    if name in ("AsyncConnection", "AsyncCursor"):
        from sturdydb import _async_connection

        return getattr(_async_connection, name)
    raise AttributeError(f"module 'sturdydb' has no attribute {name!r}")
