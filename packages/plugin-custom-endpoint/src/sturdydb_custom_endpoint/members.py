"""What a custom endpoint is made of, as the RDS API describes it, and who may be used.

An Aurora custom endpoint either lists its members (``StaticMembers``) or lists the instances
it leaves out (``ExcludedMembers``: every other instance is a member, also instances added
later); a ``READER`` endpoint never includes the writer. :meth:`CustomEndpointInfo.allows` is
that rule applied to one :class:`~sturdydb.HostInfo`, matched by instance id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sturdydb import HostInfo, HostRole

__all__ = ["CustomEndpointInfo", "instance_id"]


def instance_id(host: HostInfo) -> str:
    """The instance id of ``host``: its topology id, else the first label of its name."""
    return (host.host_id or host.host.split(".", 1)[0]).lower()


@dataclass(frozen=True)
class CustomEndpointInfo:
    """One custom endpoint's membership."""

    identifier: str
    cluster: str
    endpoint: str
    custom_type: str  # "ANY", "READER" (or "WRITER" in old API versions)
    static_members: frozenset[str]
    excluded_members: frozenset[str]

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> CustomEndpointInfo:
        """From one ``DBClusterEndpoints`` item of ``describe_db_cluster_endpoints``."""
        return cls(
            identifier=str(item.get("DBClusterEndpointIdentifier", "")),
            cluster=str(item.get("DBClusterIdentifier", "")),
            endpoint=str(item.get("Endpoint", "")),
            custom_type=str(item.get("CustomEndpointType") or "ANY").upper(),
            static_members=frozenset(str(m).lower() for m in item.get("StaticMembers") or ()),
            excluded_members=frozenset(str(m).lower() for m in item.get("ExcludedMembers") or ()),
        )

    def allows(self, host: HostInfo) -> bool:
        """Whether ``host`` is a member of the endpoint."""
        if self.custom_type == "READER" and host.role is HostRole.WRITER:
            return False
        name = instance_id(host)
        if self.static_members:
            return name in self.static_members
        return name not in self.excluded_members

    def describe(self) -> str:
        if self.static_members:
            return f"members {', '.join(sorted(self.static_members))}"
        if self.excluded_members:
            return f"every instance except {', '.join(sorted(self.excluded_members))}"
        return "every instance"
