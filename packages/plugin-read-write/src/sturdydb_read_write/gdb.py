"""The ``gdb_rw`` plugin: read/write splitting kept inside the home region of a global database.

An Aurora Global Database's topology (the ``global-aurora-pg`` dialect) gives every instance
its AWS region. ``gdb_rw`` is ``read_write_splitting`` with two restrictions, both on by
default as in the reference: reads go only to readers of ``gdb_rw_home_region`` (the
application's own region, so a read never crosses regions and never sees another region's
replication lag), and ``read_only=False`` is refused while the global writer is outside the
home region (after a cross-region switchover or failover), so no write silently crosses
regions. With the reader restriction off it is plain topology splitting; with no home-region
reader the current connection (the writer) keeps serving the reads. The reference's global
write forwarding is not provided: setting ``gdb_enable_global_write_forwarding`` is refused.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import ConfigurationError, HostInfo, HostRole, hookimpl
from sturdydb.plugin_api import parse_rds_host
from sturdydb_read_write._info import GDB_READ_WRITE_SPLITTING
from sturdydb_read_write.errors import ReadWriteSplittingError
from sturdydb_read_write.plugin import ReadWriteSplittingPlugin

if TYPE_CHECKING:
    from sturdydb import ConnectionContext, ConnectRequest
    from sturdydb_read_write.pools import Tracked
    from sturdydb_read_write.switching import SplitState

__all__ = ["GdbReadWriteSplittingPlugin", "home_region"]


def home_region(ctx: ConnectionContext) -> str:
    """``gdb_rw_home_region``, else the region of the connection string's RDS host name."""
    configured = ctx.props.get("gdb_rw_home_region")
    if configured:
        return str(configured).strip().lower()
    region = parse_rds_host(ctx.initial_host.host).region
    if region is None:
        raise ConfigurationError(
            f"gdb_rw needs the home region: {ctx.initial_host.host!r} names none (a global writer "
            "endpoint, an IP address or a custom domain); set gdb_rw_home_region, e.g. us-east-1")
    return region


class GdbReadWriteSplittingPlugin(ReadWriteSplittingPlugin):
    """Read/write splitting restricted to the home region (reference code ``gdb_rw``)."""

    code: ClassVar[str] = GDB_READ_WRITE_SPLITTING.code
    weight: ClassVar[int] = GDB_READ_WRITE_SPLITTING.weight

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        if request.purpose == "connect":
            # Refused before anything is opened, not at the first switch.
            if request.props.get("gdb_enable_global_write_forwarding"):
                raise ConfigurationError(
                    "gdb_enable_global_write_forwarding is not supported by sturdydb: writes go to "
                    "the global writer (set it to false, or leave gdb_rw out and connect to the "
                    "secondary region's reader endpoint yourself)")
            home_region(request.context)
        return (yield)

    def candidates(self, ctx: ConnectionContext, state: SplitState, role: HostRole) -> Iterator[HostInfo]:
        home = home_region(ctx)
        if role is HostRole.WRITER:
            found = list(super().candidates(ctx, state, role))
            _refuse_a_writer_outside(ctx, found, home)
            yield from found
            return
        restrict = bool(ctx.props.get("gdb_rw_restrict_reader_to_home_region"))
        # Lazily, like the base rule: a reader outside the home region is passed over and the
        # rule asked again, so the strategy still chooses among the home region's readers.
        for host in super().candidates(ctx, state, role):
            if not restrict or host.region is None or host.region == home:
                yield host

    def still_valid(self, ctx: ConnectionContext, tracked: Tracked, role: HostRole) -> bool:
        if not super().still_valid(ctx, tracked, role):
            return False
        host = next((h for h in ctx.topology.hosts if h.url == tracked.url), None)
        if role is HostRole.WRITER:
            # A kept writer connection is reused without asking candidates(): the same refusal.
            _refuse_a_writer_outside(ctx, [host] if host is not None else [], home_region(ctx))
            return True
        if ctx.props.get("gdb_rw_restrict_reader_to_home_region"):
            return host is None or host.region is None or host.region == home_region(ctx)
        return True


def _refuse_a_writer_outside(ctx: ConnectionContext, writers: list[HostInfo], home: str) -> None:
    """Refuse ``read_only=False`` when the writer is outside the home region and that is not allowed."""
    if not ctx.props.get("gdb_rw_restrict_writer_to_home_region"):
        return
    outside = [h for h in writers if h.region is not None and h.region != home]
    if outside:
        raise ReadWriteSplittingError(
            f"cannot set read_only=False: the global writer {outside[0].url} is in "
            f"{outside[0].region}, outside the home region {home} "
            "(gdb_rw_restrict_writer_to_home_region); the connection stays where it was")
