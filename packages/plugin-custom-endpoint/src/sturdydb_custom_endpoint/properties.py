"""The ``custom_endpoint`` plugin's properties: data only, read by the catalog without importing the plugin."""

from __future__ import annotations

from sturdydb import PropertySpec
from sturdydb_aws.properties import AWS_PROFILE_PROPERTY

__all__ = ["CODE", "PROPERTIES"]

CODE = "custom_endpoint"

PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("custom_endpoint_info_refresh_rate_ms", int, 30000,
                 "How often the custom endpoint's members are read again (DescribeDBClusterEndpoints).",
                 owner=CODE, unit="ms", minimum=100),
    PropertySpec("custom_endpoint_idle_monitor_expiration_ms", int, 900000,
                 "A member monitor that no connection used for this long stops; the next connect "
                 "to the endpoint starts it again.", owner=CODE, unit="ms", minimum=1000),
    PropertySpec("wait_for_custom_endpoint_info", bool, True,
                 "Make a connect wait until the endpoint's members are known (so routing and "
                 "failover can honour them from the start); false connects at once and restricts "
                 "hosts as soon as the members arrive.", owner=CODE),
    PropertySpec("wait_for_custom_endpoint_info_timeout_ms", int, 5000,
                 "How long a connect waits for the members before it fails.",
                 owner=CODE, unit="ms", minimum=0),
    PropertySpec("custom_endpoint_region", str, None,
                 "Region of the custom endpoint; unset means taken from its host name.", owner=CODE),
    AWS_PROFILE_PROPERTY,
)
