"""The ``limitless`` plugin: connect to a lightly loaded transaction router, retry on another.

On each application connect (``purpose`` ``connect`` or ``reconnect``; auxiliary connections
pass untouched) to a host that is not itself a known router:

1. routers known (the shard group's shared monitor has read them): pick one by
   ``weighted_random`` over the weights ``10 - floor(load * 10)`` and connect there;
2. none known yet: connect to the given host (the shard group endpoint), read the routers
   through that connection (re-reading up to ``limitless_get_transaction_router_max_retries``
   times when the list is empty or the read fails), then connect to a chosen router and close
   the first connection; with ``limitless_wait_for_transaction_router_info=false`` the first
   connection is kept and the monitor reads the list in the background;
3. a connect to the chosen router that fails with a network error is retried on the other
   routers, highest weight first, each once, within ``limitless_max_retries_ms``; a login
   error or any other error is raised at once (another router would refuse it too).

The connection's host (``conn.host``) is the router it reached. The retries happen inside the
connect chain below this plugin (auth plugins run again for each router), and outer plugins
see one connect. Nothing here runs on the execute path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import Plugin, PropertySpec, hookimpl
from sturdydb.plugin_api import connect_below, select_host
from sturdydb_limitless._info import LIMITLESS
from sturdydb_limitless.routers import RouterMonitor, monitor_for, read_routers
from sturdydb_limitless.settings import LimitlessSettings

if TYPE_CHECKING:
    from sturdydb import ConnectionContext, ConnectRequest, HostInfo

__all__ = ["LimitlessPlugin"]

log = logging.getLogger("sturdydb.limitless")


class LimitlessPlugin(Plugin):
    """Aurora PostgreSQL Limitless: connect to the least loaded transaction router."""

    # From the published PluginInfo (sturdydb_limitless._info), so the two cannot disagree.
    code: ClassVar[str] = LIMITLESS.code
    weight: ClassVar[int] = LIMITLESS.weight
    in_default_chain: ClassVar[bool] = LIMITLESS.in_default_chain

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        if request.purpose == "auxiliary":
            return (yield)
        ctx = request.context
        settings = LimitlessSettings.from_props(ctx.props)
        given = request.host
        port = given.port or ctx.driver.default_port
        monitor = monitor_for(ctx, replace(given, port=port), settings)
        monitor.use(ctx)
        routers = monitor.routers
        if any(_same(r, given) for r in routers):
            return (yield)  # the application (or failover) asked for this router itself
        if routers:
            chosen = select_host(routers, "weighted_random")
            request.host = chosen
            try:
                conn = yield
            except Exception as exc:
                if not ctx.driver.is_network_error(exc):
                    raise
                return self._retry(request, routers, {chosen.url}, exc, settings)
            return self._arrived(ctx, request, conn)
        # The process's first connect to this shard group: through the given host.
        conn = yield
        if not settings.wait_for_routers:
            return conn
        try:
            routers = self._first_read(ctx, conn, monitor, port, settings)
        except BaseException:
            ctx.driver.close_quietly(conn)
            raise
        if not routers or any(_same(r, given) for r in routers):
            return conn
        chosen = select_host(routers, "weighted_random")
        request.host = chosen
        try:
            new = connect_below(self, request)
        except Exception as exc:
            if not ctx.driver.is_network_error(exc):
                ctx.driver.close_quietly(conn)
                raise
            try:
                new = self._retry(request, routers, {chosen.url}, exc, settings)
            except Exception:
                # No router took it: the first connection (through the endpoint) still works.
                request.host = given
                log.info("no transaction router of %s accepted a connection; staying on %s",
                         ctx.cluster_id, given.url)
                return conn
        ctx.driver.close_quietly(conn)
        return self._arrived(ctx, request, new)

    def _first_read(
        self, ctx: ConnectionContext, conn: Any, monitor: RouterMonitor, port: int, settings: LimitlessSettings,
    ) -> list[HostInfo]:
        for attempt in range(settings.read_retries + 1):
            try:
                routers = read_routers(ctx, conn, port)
            except Exception as exc:
                if ctx.driver.is_network_error(exc):
                    raise  # the connection itself broke: the application should see that
                log.debug("reading the routers of %s failed: %s", ctx.cluster_id, exc)
                routers = []
            if routers:
                monitor.publish(routers)
                return routers
            if attempt < settings.read_retries:
                time.sleep(settings.read_retry_interval)
        log.warning("%s reported no transaction routers (is it an Aurora PostgreSQL Limitless shard "
                    "group?); the connection stays on %s", ctx.cluster_id, ctx.host.url)
        return []

    def _retry(
        self, request: ConnectRequest, routers: Sequence[HostInfo], tried: set[str],
        cause: BaseException, settings: LimitlessSettings,
    ) -> Any:
        """Connect to the other routers, highest weight first, each once, within the budget."""
        ctx = request.context
        deadline = time.monotonic() + settings.connect_budget
        last = cause
        failed = request.host.url
        while time.monotonic() < deadline:
            left = [r for r in routers if r.url not in tried]
            if not left:
                break
            router = select_host(left, "highest_weight")
            tried.add(router.url)
            log.info("transaction router %s of %s failed (%s); trying %s", failed, ctx.cluster_id, last, router.url)
            request.host = router
            failed = router.url
            try:
                conn = connect_below(self, request)
            except Exception as exc:
                if not ctx.driver.is_network_error(exc):
                    raise
                last = exc
                continue
            return self._arrived(ctx, request, conn)
        raise last

    @staticmethod
    def _arrived(ctx: ConnectionContext, request: ConnectRequest, conn: Any) -> Any:
        if request.purpose == "connect":
            ctx.host = request.host
        return conn

    @staticmethod
    @hookimpl
    def sturdydb_add_properties() -> Sequence[PropertySpec]:
        return list(LIMITLESS.properties)


def _same(a: HostInfo, b: HostInfo) -> bool:
    return a.host.lower() == b.host.lower() and a.port == b.port
