"""sturdydb-custom-endpoint: connections to an Aurora custom endpoint stay within its members.

``plugins="custom_endpoint,failover"`` with a ``<name>.cluster-custom-<hash>.<region>...``
host: a shared monitor per endpoint reads the endpoint's members with the RDS API
(``DescribeDBClusterEndpoints``) and refreshes them on an interval; the connect waits for
them (``wait_for_custom_endpoint_info``), and connect-time routing, reader selection and
failover then consider only the members (``ConnectionContext.allowed_hosts``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sturdydb.plugin_api import lazy_exports

if TYPE_CHECKING:
    from sturdydb_custom_endpoint.members import CustomEndpointInfo
    from sturdydb_custom_endpoint.monitor import EndpointMonitor, monitors
    from sturdydb_custom_endpoint.plugin import CustomEndpointPlugin

#: What this package exports, and the module each name lives in, imported on first use so
#: that importing the package (for its cheap ``_info``) stays cheap.
_LAZY: dict[str, str] = {
    "CustomEndpointInfo": "sturdydb_custom_endpoint.members",
    "CustomEndpointPlugin": "sturdydb_custom_endpoint.plugin",
    "EndpointMonitor": "sturdydb_custom_endpoint.monitor",
    "monitors": "sturdydb_custom_endpoint.monitor",
}

__getattr__ = lazy_exports(globals(), _LAZY)

__all__ = ["CustomEndpointInfo", "CustomEndpointPlugin", "EndpointMonitor", "monitors"]
