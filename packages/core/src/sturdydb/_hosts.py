"""Hosts: what sturdydb knows about one database instance, and RDS host name classification.

``HostInfo`` is immutable; the topology registry replaces whole host tuples when something
changes, so readers never see a half-updated host. ``classify_host`` tells a cluster writer
endpoint from a reader endpoint, a custom endpoint, a proxy, an instance, an IP address or
anything else, which decides how a connection string is routed.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import re
import time
from dataclasses import dataclass, field, replace

from sturdydb._record import value_methods

__all__ = [
    "HostAvailability",
    "HostInfo",
    "HostRole",
    "RdsHost",
    "RdsUrlType",
    "classify_host",
    "parse_global_host_patterns",
    "parse_rds_host",
]


class HostRole(enum.Enum):
    """What an instance does in its cluster."""

    WRITER = "writer"
    READER = "reader"
    UNKNOWN = "unknown"


class HostAvailability(enum.Enum):
    """Whether sturdydb currently believes an instance can be reached."""

    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"


@value_methods  # repr, == and hash without compiling them (import sturdydb stays cheap)
@dataclass(frozen=True, slots=True, repr=False, eq=False)
class HostInfo:
    """One database instance (or endpoint) as sturdydb sees it."""

    host: str
    port: int | None = None
    role: HostRole = HostRole.UNKNOWN
    availability: HostAvailability = HostAvailability.AVAILABLE
    weight: int = 100
    host_id: str | None = None
    last_update: float = field(default_factory=time.time, compare=False)
    #: How far this reader's data is behind the writer, from the topology query's lag column
    #: (``None``: not reported, for example a writer or a dialect without topology).
    replica_lag_ms: float | None = field(default=None, compare=False)
    #: The AWS region of the instance, when the topology reports one (Aurora Global Database).
    region: str | None = None

    @property
    def url(self) -> str:
        """``host:port`` (or just ``host``), the key used for per-host state."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def with_role(self, role: HostRole) -> HostInfo:
        return replace(self, role=role)

    def with_availability(self, availability: HostAvailability) -> HostInfo:
        return replace(self, availability=availability)

    def __str__(self) -> str:
        return f"{self.url} ({self.role.value})"


class RdsUrlType(enum.Enum):
    """The kinds of host name that RDS and Aurora hand out."""

    IP_ADDRESS = "ip_address"
    RDS_WRITER_CLUSTER = "rds_writer_cluster"
    RDS_READER_CLUSTER = "rds_reader_cluster"
    RDS_CUSTOM_CLUSTER = "rds_custom_cluster"
    RDS_PROXY = "rds_proxy"
    RDS_INSTANCE = "rds_instance"
    RDS_GLOBAL_WRITER_CLUSTER = "rds_global_writer_cluster"
    OTHER = "other"

    @property
    def is_rds(self) -> bool:
        return self not in (RdsUrlType.IP_ADDRESS, RdsUrlType.OTHER)

    @property
    def is_rds_cluster(self) -> bool:
        return self in (
            RdsUrlType.RDS_WRITER_CLUSTER,
            RdsUrlType.RDS_READER_CLUSTER,
            RdsUrlType.RDS_CUSTOM_CLUSTER,
            RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER,
        )


# <name>.<kind-><cluster hash>.<region>.rds.<domain>; the domain covers the commercial,
# China (amazonaws.com.cn) and GovCloud/ISO partitions.
_RDS_HOST = re.compile(
    r"^(?P<instance>[^.]+)\."
    r"(?P<kind>cluster-ro-|cluster-custom-|cluster-|proxy-|shardgrp-)?"
    r"(?P<hash>[a-z0-9]+)\."
    r"(?P<region>[a-z0-9-]+)\."
    r"rds\.(?P<domain>amazonaws\.com(?:\.cn)?|sc2s\.sgov\.gov|c2s\.ic\.gov|amazonaws\.eu)$",
    re.IGNORECASE,
)
_GLOBAL_HOST = re.compile(
    r"^(?P<instance>[^.]+)\.global-(?P<hash>[a-z0-9]+)\.global\.rds\.amazonaws\.com$",
    re.IGNORECASE,
)

_KIND_TO_TYPE = {
    "cluster-": RdsUrlType.RDS_WRITER_CLUSTER,
    "cluster-ro-": RdsUrlType.RDS_READER_CLUSTER,
    "cluster-custom-": RdsUrlType.RDS_CUSTOM_CLUSTER,
    "proxy-": RdsUrlType.RDS_PROXY,
    "shardgrp-": RdsUrlType.RDS_INSTANCE,
}


@value_methods
@dataclass(frozen=True, slots=True, repr=False, eq=False)
class RdsHost:
    """The parts of an RDS host name."""

    url_type: RdsUrlType
    instance: str | None = None
    cluster_hash: str | None = None
    region: str | None = None
    domain: str | None = None

    def instance_host_pattern(self) -> str | None:
        """The ``?.<hash>.<region>.rds.<domain>`` template that topology ids are put into."""
        if self.cluster_hash is None or self.region is None or self.domain is None:
            return None
        return f"?.{self.cluster_hash}.{self.region}.rds.{self.domain}"

    def cluster_writer_host(self) -> str | None:
        """The writer (cluster) endpoint of the cluster this host belongs to, when known."""
        if self.url_type not in (RdsUrlType.RDS_WRITER_CLUSTER, RdsUrlType.RDS_READER_CLUSTER):
            return None
        return f"{self.instance}.cluster-{self.cluster_hash}.{self.region}.rds.{self.domain}"


@functools.lru_cache(maxsize=1024)
def parse_rds_host(host: str) -> RdsHost:
    """Split ``host`` into its RDS parts; ``url_type`` says what kind of name it is.

    Cached (the answer is an immutable value of the name alone): a connect asks several
    times (routing, settings, the cluster id, monitoring), and an IP address check parses it.
    """
    name = host.strip().rstrip(".")
    try:
        ipaddress.ip_address(name.strip("[]"))
        return RdsHost(RdsUrlType.IP_ADDRESS)
    except ValueError:
        pass
    match = _GLOBAL_HOST.match(name)
    if match:
        return RdsHost(
            RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER,
            instance=match["instance"].lower(),
            cluster_hash=match["hash"].lower(),
        )
    match = _RDS_HOST.match(name)
    if not match:
        return RdsHost(RdsUrlType.OTHER)
    kind = (match["kind"] or "").lower()
    url_type = _KIND_TO_TYPE.get(kind, RdsUrlType.RDS_INSTANCE)
    return RdsHost(
        url_type,
        instance=match["instance"].lower(),
        cluster_hash=match["hash"].lower(),
        region=match["region"].lower(),
        domain=match["domain"].lower(),
    )


def classify_host(host: str) -> RdsUrlType:
    """The :class:`RdsUrlType` of ``host``."""
    return parse_rds_host(host).url_type


def parse_global_host_patterns(text: str) -> dict[str, str]:
    """``region:host-pattern[:port],...`` (``global_cluster_instance_host_patterns``) as a map.

    Raises ``ValueError`` naming the faulty entry and the expected shape.
    """
    patterns: dict[str, str] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        region, sep, pattern = entry.partition(":")
        region, pattern = region.strip().lower(), pattern.strip()
        if not sep or not region or "?" not in pattern:
            raise ValueError(
                f"global_cluster_instance_host_patterns entry {entry!r} is not region:host-pattern "
                "with '?' standing for the instance id (for example "
                "us-east-1:?.abc123.us-east-1.rds.amazonaws.com)"
            )
        patterns[region] = pattern
    if not patterns:
        raise ValueError("global_cluster_instance_host_patterns is empty: give region:host-pattern,...")
    return patterns
