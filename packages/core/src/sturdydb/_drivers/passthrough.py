"""The pass-through dialect: a driver sturdydb does not know, with no plugins at all.

``sturdydb.connect(some_driver.connect, plugins="", **kwargs)`` calls the driver with the
keyword properties that sturdydb does not own, and every attribute and method of the
connection and its cursors goes to the driver unchanged. There is nothing sturdydb could add
without knowing the driver (no failover, no timeouts, no monitoring), so any property that
would enable a plugin is refused where the plan is made (``_connection._plan``). It exists so
that code written against ``sturdydb.connect`` also runs on another PEP 249 driver, for
example in tests on SQLite.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb._drivers.base import DriverDialect, SessionState

if TYPE_CHECKING:
    from sturdydb._hosts import HostInfo
    from sturdydb._properties import Properties

__all__ = ["PassThroughDialect"]


def _dbapi_module(modules: list[str]) -> types.ModuleType:
    """The first of ``modules`` (or its top-level package) with PEP 249's exception classes."""
    for name in modules:
        for candidate in (name, name.split(".")[0]):
            module = sys.modules.get(candidate)
            if module is None and candidate:
                try:
                    module = importlib.import_module(candidate)
                except Exception:
                    continue
            if module is not None and hasattr(module, "Error") and hasattr(module, "OperationalError"):
                return module
    from sturdydb import _errors

    return _errors  # sturdydb's own PEP 249 exception tree: the driver exposes none


class PassThroughDialect(DriverDialect):
    """Everything goes to the driver as the application wrote it."""

    name: ClassVar[str] = "pass-through"
    supports_plugins: ClassVar[bool] = False
    accepts_any_property: ClassVar[bool] = True
    context_exit_delegates: ClassVar[bool] = True

    def __init__(self, modules: list[str]) -> None:
        self.module = _dbapi_module(modules)

    # -- errors: nothing is classified, because nothing acts on a classification ----------
    def is_network_error(self, exc: BaseException) -> bool:
        return False

    def is_login_error(self, exc: BaseException) -> bool:
        return False

    def is_read_only_error(self, exc: BaseException) -> bool:
        return False

    # -- connecting -------------------------------------------------------------
    def connect(
        self, target: Callable[..., Any], host: HostInfo, kwargs: dict[str, Any], props: Properties
    ) -> Any:
        return target(**kwargs)

    # -- connection state: the driver's own attributes --------------------------------------
    def socket_fd(self, conn: Any) -> int | None:
        return None

    def is_closed(self, conn: Any) -> bool:
        return bool(getattr(conn, "closed", False))

    def in_transaction(self, conn: Any) -> bool:
        return bool(getattr(conn, "in_transaction", False))

    def get_autocommit(self, conn: Any, set_value: Callable[[bool], None] | None = None) -> Any:
        return conn.autocommit

    def read_session_state(self, conn: Any) -> SessionState:
        return SessionState()

    def apply_session_state(self, conn: Any, state: SessionState) -> None:
        pass  # never called: there is no failover to carry the state over

    def set_read_only(self, conn: Any, value: bool | None) -> None:
        conn.read_only = value

    def set_isolation_level(self, conn: Any, value: Any) -> None:
        conn.isolation_level = value

    def get_read_only(self, conn: Any, session: SessionState) -> Any:
        return conn.read_only

    def get_isolation_level(self, conn: Any, session: SessionState) -> Any:
        return conn.isolation_level

    def cursor_is_server_side(self, cursor: Any) -> bool:
        return False
