"""The properties of ``read_write_splitting`` and ``srw``, and the typed view one connection reads.

Names and defaults follow the reference wrapper where it has them (``srw_*``; the reader
strategy is the core's ``reader_host_selector_strategy``). The pool properties are sturdydb's:
the reference configures its pooled connection provider in code (a pool configurator and an
expiration time of 30 minutes), sturdydb with three properties. :class:`SplitSettings` is
built once per connection, at its first switch, so a switch never parses a property.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sturdydb import ConfigurationError, HostInfo, PropertySpec
from sturdydb.plugin_api import normalize_choice

if TYPE_CHECKING:
    from sturdydb.plugin_api import Properties

__all__ = ["SplitSettings", "parse_endpoint", "pool_properties", "srw_properties"]


def pool_properties() -> list[PropertySpec]:
    """The internal pools' properties (owned by ``read_write_splitting``, read by ``srw`` too)."""
    owner = "read_write_splitting"
    return [
        PropertySpec("read_write_pools", bool, False,
                     "sturdydb only: keep the physical connections that read/write splitting "
                     "leaves in process-wide pools per host (and user and options), so a switch "
                     "and a new connection's first switch reuse one instead of connecting.",
                     owner=owner),
        PropertySpec("read_write_pool_size", int, 5,
                     "sturdydb only: how many idle connections each pool keeps; a connection "
                     "returned to a full pool is closed.", owner=owner, minimum=1),
        PropertySpec("read_write_pool_idle_timeout_ms", int, 1_800_000,
                     "sturdydb only: an idle pooled connection older than this is closed instead "
                     "of reused (the reference expires its pools after 30 minutes).",
                     owner=owner, unit="ms", minimum=1),
    ]


def srw_properties() -> list[PropertySpec]:
    """The ``srw`` plugin's properties (the reference's names and defaults)."""
    owner = "srw"
    return [
        PropertySpec("srw_read_endpoint", str, None,
                     "Where reads go while read_only is true: `host[:port]`, typically the "
                     "reader cluster endpoint. Required by srw.", owner=owner),
        PropertySpec("srw_write_endpoint", str, None,
                     "Where work goes while read_only is false: `host[:port]`, typically the "
                     "cluster (writer) endpoint. Required by srw.", owner=owner),
        PropertySpec("srw_verify_new_connections", bool, True,
                     "Check that a connection srw opens reached the role it wants (a reader for "
                     "the read endpoint, the writer for the write endpoint), retrying until "
                     "srw_connect_retry_timeout_ms.", owner=owner),
        PropertySpec("srw_verify_initial_connection_type", str, None,
                     "`reader` or `writer`: check that the application's first connection "
                     "reached that role, retrying like srw_verify_new_connections. Unset: the "
                     "first connection's role is taken from its host (the read endpoint is a "
                     "reader, anything else the writer).",
                     owner=owner, choices=("reader", "writer"), normalize=normalize_choice),
        PropertySpec("srw_connect_retry_timeout_ms", int, 60_000,
                     "How long srw keeps trying to open a verified connection.",
                     owner=owner, unit="ms", minimum=0),
        PropertySpec("srw_connect_retry_interval_ms", int, 1_000,
                     "Pause between two of srw's attempts to open a verified connection.",
                     owner=owner, unit="ms", minimum=0),
    ]


def parse_endpoint(name: str, value: str | None) -> HostInfo:
    """``host[:port]`` of an srw endpoint property, or a ConfigurationError naming the fix."""
    if not value or not str(value).strip():
        raise ConfigurationError(
            f"the srw plugin needs {name}: set it to host[:port] (for example the "
            f"{'reader' if 'read' in name else 'cluster'} endpoint of the cluster)")
    text = str(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:
        return HostInfo(text, None)
    if not port.isdigit() or not host:
        raise ConfigurationError(f"{name}={text!r} is not host[:port]: the port must be a number")
    return HostInfo(host.strip("[]"), int(port))


@dataclass(frozen=True)
class SplitSettings:
    """What one connection's switches need, read once from its properties."""

    strategy: str
    pools: bool
    pool_size: int
    pool_idle_timeout: float
    aux_timeout: float

    @classmethod
    def from_props(cls, props: Properties) -> SplitSettings:
        return cls(
            strategy=str(props.get("reader_host_selector_strategy") or "random"),
            pools=bool(props.get("read_write_pools")),
            pool_size=int(props.get("read_write_pool_size")),
            pool_idle_timeout=int(props.get("read_write_pool_idle_timeout_ms")) / 1000.0,
            aux_timeout=float(props.get("auxiliary_query_timeout_sec") or 0),
        )
