"""``ENGINE: "sturdydb_django.mysql"``: mysql-connector's Django backend through sturdydb.

Django's own MySQL backend needs mysqlclient; this one extends the backend that
mysql-connector-python ships (``mysql.connector.django``), opening each connection with
:func:`sturdydb.connect`. ``OPTIONS`` carries sturdydb properties next to the driver's.

After a failover the session settings that the backend sets with SQL at connect
(``SET SQL_AUTO_IS_NULL = 0``, ``OPTIONS["isolation_level"]``) are applied again by Django
only when it opens a new connection; sturdydb carries over autocommit and the database.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import mysql.connector
from mysql.connector.django import base as mysql_base

import sturdydb
from sturdydb_django._common import is_usable

__all__ = ["DatabaseWrapper"]


class DatabaseWrapper(mysql_base.DatabaseWrapper):
    """mysql-connector's Django ``DatabaseWrapper`` with sturdydb connections."""

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        params = dict(conn_params)
        params.setdefault("converter_class", mysql_base.DjangoMySQLConverter)
        if "passwd" in params:  # the backend's spelling; sturdydb and the driver know "password"
            params["password"] = params.pop("passwd")
        return sturdydb.connect(mysql.connector.connect, **params)

    @cached_property
    def mysql_version(self) -> tuple[int, ...]:
        # The backend's own version opens a bare mysql-connector connection with the settings'
        # parameters, which include sturdydb properties the driver refuses: open ours instead.
        current: Any = self.connection
        if current is None:
            with self.temporary_connection():  # type: ignore[operator]  # the base class __getattr__ confuses mypy
                opened: Any = self.connection
                return tuple(opened.server_version)
        return tuple(current.server_version)

    def is_usable(self) -> bool:
        return is_usable(self.connection, mysql.connector.Error)
