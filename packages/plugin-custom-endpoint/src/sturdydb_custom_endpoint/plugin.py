"""The ``custom_endpoint`` plugin: connections to an Aurora custom endpoint use only its members.

At connect, for a ``<name>.cluster-custom-<hash>.<region>.rds.amazonaws.com`` host, it joins
the endpoint's shared :class:`~sturdydb_custom_endpoint.monitor.EndpointMonitor`, sets the
connection's host restriction (``ConnectionContext.allowed_hosts``) to "is a member", and, with
``wait_for_custom_endpoint_info`` (the default, as in the reference wrapper), waits up to
``wait_for_custom_endpoint_info_timeout_ms`` for the members before the connect goes on; a
connect that cannot learn them fails with the reason. Failover and reader selection consult
the restriction each time, so a member change published by the monitor applies to the next
routing decision. Other hosts pass through untouched. It wraps no DB-API call: nothing on the
hot path.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import ConfigurationError, OperationalError, Plugin, PropertySpec, hookimpl
from sturdydb.plugin_api import RdsUrlType, parse_rds_host
from sturdydb_aws import aws_client
from sturdydb_custom_endpoint._info import CUSTOM_ENDPOINT
from sturdydb_custom_endpoint.monitor import EndpointMonitor, monitors

if TYPE_CHECKING:
    from sturdydb import ConnectRequest
    from sturdydb.plugin_api import Properties

__all__ = ["CustomEndpointPlugin", "describe_endpoint"]

log = logging.getLogger("sturdydb.custom_endpoint")


def describe_endpoint(identifier: str, region: str, profile: str | None) -> dict[str, Any] | None:
    """The RDS API's description of the custom endpoint ``identifier`` (``None``: no such endpoint)."""
    client = aws_client("rds", profile=profile, region=region)
    answer = client.describe_db_cluster_endpoints(
        DBClusterEndpointIdentifier=identifier,
        Filters=[{"Name": "db-cluster-endpoint-type", "Values": ["custom"]}],
    )
    items = answer.get("DBClusterEndpoints") or []
    return dict(items[0]) if items else None


class CustomEndpointPlugin(Plugin):
    """Keeps connections and failover within an Aurora custom endpoint's members (``custom_endpoint``)."""

    code: ClassVar[str] = CUSTOM_ENDPOINT.code
    weight: ClassVar[int] = CUSTOM_ENDPOINT.weight

    @classmethod
    def configuration_risks(cls, props: Properties, codes: Sequence[str], host: str) -> list[str]:
        if parse_rds_host(host).url_type is not RdsUrlType.RDS_CUSTOM_CLUSTER:
            return ["custom_endpoint has no effect: the host is not an Aurora custom endpoint "
                    "(<name>.cluster-custom-<hash>.<region>.rds.amazonaws.com)"]
        if "failover" not in codes:
            return ["custom_endpoint without failover: the members are learned, but nothing "
                    "reconnects within them when the instance fails"]
        return []

    def release_resources(self) -> None:
        monitors.release_all()

    @staticmethod
    @hookimpl
    def sturdydb_add_properties() -> Sequence[PropertySpec]:
        return CUSTOM_ENDPOINT.properties

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        if request.purpose != "connect":
            return (yield)  # failover's reconnects and auxiliary connections: already restricted
        parsed = parse_rds_host(request.host.host)
        if parsed.url_type is not RdsUrlType.RDS_CUSTOM_CLUSTER or not parsed.instance:
            log.debug("%s is not a custom endpoint: custom_endpoint leaves it alone", request.host.host)
            return (yield)
        ctx = request.context
        props = request.props
        region = str(props.get("custom_endpoint_region") or parsed.region or "")
        if not region:
            raise ConfigurationError(
                f"custom_endpoint cannot tell the AWS region of {request.host.host}: set custom_endpoint_region")
        identifier = parsed.instance
        profile = props.get("aws_profile")
        refresh = float(props.get("custom_endpoint_info_refresh_rate_ms")) / 1000.0
        idle = float(props.get("custom_endpoint_idle_monitor_expiration_ms")) / 1000.0
        key = (request.host.host.lower(), region, profile)
        monitor = monitors.attach(key, lambda: EndpointMonitor(
            key, identifier, lambda: describe_endpoint(identifier, region, profile), refresh, idle))
        ctx.allowed_hosts = monitor.allows
        ctx.plugin_state[self.code] = monitor
        if props.get("wait_for_custom_endpoint_info"):
            timeout = float(props.get("wait_for_custom_endpoint_info_timeout_ms")) / 1000.0
            if monitor.wait_for_info(timeout) is None:
                why = (f": {monitor.last_error}" if monitor.last_error
                       else ": DescribeDBClusterEndpoints has not answered yet")
                raise ctx.error(
                    OperationalError,
                    f"the members of custom endpoint {identifier} were not known within "
                    f"wait_for_custom_endpoint_info_timeout_ms={timeout * 1000:g}{why}. Check that the "
                    "endpoint exists and the AWS credentials may call rds:DescribeDBClusterEndpoints, "
                    "or raise the timeout",
                )
        return (yield)
