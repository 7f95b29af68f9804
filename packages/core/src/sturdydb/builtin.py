"""Plugins that the core itself adds to a chain when properties ask for them.

``socket_timeout``: when the property is set, every network-bound call registers a deadline
with the process-wide :mod:`~sturdydb.watchdog`; a call still blocked when it passes has its
connection aborted and raises ``QueryTimeoutError`` (chained to the driver's error). It is the
innermost plugin, so failover and monitoring, outside it, see the timeout as a network error.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb.errors import QueryTimeoutError
from sturdydb.hookspecs import hookimpl
from sturdydb.plugin import Plugin
from sturdydb.watchdog import watchdog

if TYPE_CHECKING:
    from sturdydb.context import Call
    from sturdydb.properties import Properties

__all__ = ["SocketTimeoutPlugin"]


class SocketTimeoutPlugin(Plugin):
    code: ClassVar[str] = "socket_timeout"
    weight: ClassVar[int] = 100_000  # innermost: the timeout applies to the driver call itself

    @classmethod
    def enabled(cls, props: Properties) -> bool:
        return bool(props.get("socket_timeout"))

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return network_bound

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        ctx = call.context
        conn = ctx.connection
        driver = ctx.driver
        seconds = float(ctx.props.get("socket_timeout"))
        deadline = watchdog.register(seconds, lambda: driver.abort_connection(conn), exclusive=True)
        try:
            return (yield)
        except BaseException as exc:
            if deadline.fired:
                raise ctx.error(
                    QueryTimeoutError,
                    f"{call.method} did not complete within socket_timeout={seconds:g}s; "
                    "the connection was aborted",
                ) from exc
            raise
        finally:
            watchdog.unregister(deadline)
