"""sturdydb: a plugin pipeline around your DB-API driver that survives cluster events.

Use it like the driver itself::

    import psycopg, sturdydb
    conn = sturdydb.connect(psycopg.Connection.connect, "host=... dbname=app", plugins="failover")

The module is a PEP 249 module: ``connect``, ``apilevel``, ``threadsafety``, ``paramstyle``
and the exception classes. Nothing here starts a thread or opens a connection at import time.
"""

from __future__ import annotations

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

__version__ = "0.1.0"

apilevel = "2.0"
threadsafety = 2
paramstyle = "pyformat"

__all__ = [
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
