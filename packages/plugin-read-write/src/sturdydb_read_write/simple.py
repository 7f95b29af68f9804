"""The ``srw`` plugin: ``read_only`` moves the work between two configured endpoints.

``srw_write_endpoint`` serves the connection while ``read_only`` is false and
``srw_read_endpoint`` while it is true; no topology is read, so it works with any
primary/replica pair, a proxy, or Aurora's cluster and reader endpoints. With
``srw_verify_new_connections`` (the default) each connection it opens is checked to have the
wanted role (DNS of an endpoint may lag a failover) and is retried every
``srw_connect_retry_interval_ms`` until ``srw_connect_retry_timeout_ms``; a reader endpoint
that only leads to the writer ends in the writer serving the reads.
``srw_verify_initial_connection_type`` checks the application's own first connection the same
way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import HostInfo, HostRole, hookimpl
from sturdydb.plugin_api import bounded, connect_below
from sturdydb_read_write._info import SRW
from sturdydb_read_write.errors import ReadWriteSplittingError
from sturdydb_read_write.settings import parse_endpoint
from sturdydb_read_write.switching import SplitState, SwitchingPlugin

if TYPE_CHECKING:
    from sturdydb import ConnectionContext, ConnectRequest
    from sturdydb.plugin_api import Properties

__all__ = ["SimpleReadWriteSplittingPlugin"]

log = logging.getLogger("sturdydb.read_write")


class SimpleReadWriteSplittingPlugin(SwitchingPlugin):
    """Read/write splitting between two endpoints (reference code ``srw``)."""

    code: ClassVar[str] = SRW.code
    weight: ClassVar[int] = SRW.weight

    @staticmethod
    def endpoints(props: Properties) -> tuple[HostInfo, HostInfo]:
        """(write endpoint, read endpoint); a ConfigurationError when one is missing or malformed."""
        write = parse_endpoint("srw_write_endpoint", props.get("srw_write_endpoint"))
        read = parse_endpoint("srw_read_endpoint", props.get("srw_read_endpoint"))
        return (HostInfo(write.host, write.port, HostRole.WRITER), HostInfo(read.host, read.port, HostRole.READER))

    # -- the first connection ---------------------------------------------------------------
    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        if request.purpose != "connect":
            return (yield)
        props = request.props
        self.endpoints(props)  # a missing endpoint fails the connect, not the first switch
        expected = props.get("srw_verify_initial_connection_type")
        conn = yield
        if expected is None:
            return conn
        want = HostRole.WRITER if expected == "writer" else HostRole.READER
        return self._verified(request.context, conn, want, lambda: connect_below(self, request), request.host)

    # -- what SwitchingPlugin asks ------------------------------------------------------------
    def initial_role(self, ctx: ConnectionContext) -> HostRole:
        expected = ctx.props.get("srw_verify_initial_connection_type")
        if expected is not None:
            return HostRole.WRITER if expected == "writer" else HostRole.READER
        _, read = self.endpoints(ctx.props)
        default = ctx.driver.default_port
        host = ctx.host
        same = host.host.lower() == read.host.lower() and (host.port or default) == (read.port or default)
        return HostRole.READER if same else HostRole.WRITER

    def candidates(self, ctx: ConnectionContext, state: SplitState, role: HostRole) -> Sequence[HostInfo]:
        write, read = self.endpoints(ctx.props)
        return [write if role is HostRole.WRITER else read]

    def open(self, ctx: ConnectionContext, state: SplitState, host: HostInfo, role: HostRole) -> Any:
        conn = ctx.open(host, purpose="reconnect")
        if not ctx.props.get("srw_verify_new_connections"):
            return conn
        return self._verified(ctx, conn, role, lambda: ctx.open(host, purpose="reconnect"), host)

    @staticmethod
    def _is_writer(ctx: ConnectionContext, conn: Any, host: HostInfo, aux: float) -> bool:
        """The server's own answer (the dialect's role query), bounded by ``aux`` seconds."""
        driver = ctx.driver
        dialect = ctx.detect_dialect(conn, host)
        return bool(bounded(driver, conn, aux, lambda: dialect.is_writer(driver, conn)))

    def _verified(self, ctx: ConnectionContext, conn: Any, want: HostRole, reopen: Any, host: HostInfo) -> Any:
        """``conn`` once its server has role ``want``, reconnecting until the retry timeout."""
        props = ctx.props
        timeout = int(props.get("srw_connect_retry_timeout_ms")) / 1000.0
        interval = int(props.get("srw_connect_retry_interval_ms")) / 1000.0
        aux = float(props.get("auxiliary_query_timeout_sec") or 0)
        driver = ctx.driver
        deadline = time.monotonic() + timeout
        while True:
            try:
                is_writer = self._is_writer(ctx, conn, host, aux)
            except BaseException:
                driver.close_quietly(conn)
                raise
            if is_writer == (want is HostRole.WRITER):
                return conn
            driver.close_quietly(conn)
            if time.monotonic() + interval > deadline:
                if want is HostRole.READER and host.role is HostRole.READER:
                    # The read endpoint only leads to the writer: let the writer serve reads.
                    raise ConnectionError(f"{host.url} led to the writer, not a reader, within "
                                          f"srw_connect_retry_timeout_ms={int(timeout * 1000)}")
                raise ReadWriteSplittingError(
                    f"{host.url} did not lead to a {want.value} within srw_connect_retry_timeout_ms="
                    f"{int(timeout * 1000)} (checked with the dialect's role query); check the "
                    "endpoint, or set srw_verify_new_connections=false to skip the check")
            log.info("%s led to a %s, not a %s; retrying in %g s", host.url,
                     "writer" if is_writer else "reader", want.value, interval)
            time.sleep(interval)
            conn = reopen()
