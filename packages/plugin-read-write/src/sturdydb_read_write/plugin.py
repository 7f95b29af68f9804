"""The ``read_write_splitting`` plugin: ``read_only`` moves the work between the cluster's
writer and a reader chosen from the topology by the core's reader selection.

The topology is the shared one of the connection's cluster (kept fresh by the failover
plugin's monitor when it is in the chain; read once through the application's connection
otherwise). A reader is chosen with :func:`sturdydb.plugin_api.select_reader`, the same rule
connect-time routing and failover use: ``reader_host_selector_strategy`` (with its weights),
only available readers within ``max_replica_lag_ms`` and within the connection's
``allowed_hosts`` (a custom endpoint's members); when no reader qualifies the writer serves
the reads. A reader that cannot be opened is marked unavailable and the rule is asked again.
With ``read_write_pools`` each switch to a reader chooses again, so the reads of one
connection spread too; without pools the kept reader is reused while it still qualifies. A
kept writer connection is dropped when the topology names another writer, and a kept reader
when its host became the writer, went down, lags too much or left the allowed hosts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import HostInfo, HostRole
from sturdydb.plugin_api import bounded, qualifying_readers, select_reader
from sturdydb_read_write._info import READ_WRITE_SPLITTING
from sturdydb_read_write.switching import SplitState, SwitchingPlugin

if TYPE_CHECKING:
    from sturdydb import ConnectionContext
    from sturdydb.plugin_api import Properties
    from sturdydb_read_write.pools import Tracked

__all__ = ["ReadWriteSplittingPlugin"]

log = logging.getLogger("sturdydb.read_write")


class ReadWriteSplittingPlugin(SwitchingPlugin):
    """Read/write splitting over the cluster topology (reference code ``read_write_splitting``)."""

    code: ClassVar[str] = READ_WRITE_SPLITTING.code
    weight: ClassVar[int] = READ_WRITE_SPLITTING.weight
    refused_codes: ClassVar[Mapping[str, str]] = READ_WRITE_SPLITTING.refused_codes

    @classmethod
    def configuration_risks(cls, props: Properties, codes: Sequence[str], host: str) -> list[str]:
        if "failover" in codes:
            return []
        return ["read_write_splitting without failover: the topology is read once, so a reader "
                "added later is never used and a failed reader or writer is not replaced; add "
                "'failover' to plugins"]

    def initial_role(self, ctx: ConnectionContext) -> HostRole:
        topology = ctx.topology
        if not topology.hosts:
            self._read_topology(ctx)
        known = self._find(ctx, ctx.host)
        if known is not None and known.role is not HostRole.UNKNOWN:
            return known.role
        # Not one of the instances (an endpoint name without failover's routing): ask the server.
        driver, conn = ctx.driver, ctx.connection
        dialect = ctx.dialect
        aux = float(ctx.props.get("auxiliary_query_timeout_sec") or 0)
        is_writer = bounded(driver, conn, aux, lambda: dialect.is_writer(driver, conn))
        return HostRole.WRITER if is_writer else HostRole.READER

    @staticmethod
    def _read_topology(ctx: ConnectionContext) -> None:
        """Seed the shared topology through the application's connection (no failover plugin)."""
        dialect = ctx.dialect
        pattern = ctx.instance_host_pattern()
        if not dialect.has_topology or pattern is None:
            return  # a plain server: no readers, the writer serves reads
        driver, conn = ctx.driver, ctx.connection
        aux = float(ctx.props.get("auxiliary_query_timeout_sec") or 0)
        port = ctx.host.port or driver.default_port
        hosts = bounded(driver, conn, aux, lambda: dialect.topology(driver, conn, pattern, port))
        if hosts:
            ctx.topology.instance_host_pattern = pattern
            ctx.topology.update(hosts)

    @staticmethod
    def _find(ctx: ConnectionContext, host: HostInfo) -> HostInfo | None:
        found = ctx.topology.find(host.host)
        if found is None:
            return None
        default = ctx.driver.default_port
        return found if (found.port or default) == (host.port or default) else None

    def candidates(self, ctx: ConnectionContext, state: SplitState, role: HostRole) -> Iterator[HostInfo]:
        topology = ctx.topology
        if role is HostRole.WRITER:
            writer = topology.writer
            if writer is not None:
                yield writer
            elif state.current_role is HostRole.READER:
                yield ctx.initial_host
            return
        # Lazily, best first: the next reader is chosen only when the previous one could not
        # be opened (it is marked unavailable then), so a switch asks the rule once.
        strategy = state.settings.strategy
        tried: set[str] = set()
        while True:
            hosts = [h for h in topology.hosts if h.url not in tried]
            pick = select_reader(hosts, ctx.props, strategy=strategy, context=ctx)
            if pick is None or pick.role is not HostRole.READER:
                return  # no reader qualifies: the writer serves the reads
            tried.add(pick.url)
            yield pick

    def still_valid(self, ctx: ConnectionContext, tracked: Tracked, role: HostRole) -> bool:
        topology = ctx.topology
        if not topology.hosts:
            return True
        if role is HostRole.WRITER:
            writer = topology.writer
            return writer is None or writer.url == tracked.url
        host = self.host_for(ctx, state=None, url=tracked.url, role=role)
        # The same rule as choosing: a kept reader that now lags, went down or left the
        # allowed hosts is not reused.
        return host is None or host in qualifying_readers([host], ctx.props, ctx)

    def host_for(self, ctx: ConnectionContext, state: SplitState | None, url: str, role: HostRole) -> HostInfo | None:
        # By the topology, not by asking the strategy (that would advance a round-robin cycle).
        return next((h for h in ctx.topology.hosts if h.url == url), None)

    def role_of(self, ctx: ConnectionContext, host: HostInfo, wanted: HostRole) -> HostRole:
        known = self._find(ctx, host)
        if known is not None and known.role is not HostRole.UNKNOWN:
            return known.role
        return wanted

    def open(self, ctx: ConnectionContext, state: SplitState, host: HostInfo, role: HostRole) -> Any:
        return ctx.open(host, purpose="reconnect")
