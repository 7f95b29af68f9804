"""The AWS region an IAM token for an Aurora Global Database writer endpoint is signed for.

A global writer endpoint (``<name>.global-<hash>.global.rds.amazonaws.com``) names no region,
yet RDS accepts only tokens signed for the region of the global writer. As the reference does,
the region comes from ``DescribeGlobalClusters``: the member cluster marked as writer, whose ARN
carries the region. The answer is kept for a minute per (endpoint, profile), so connects do not
each call AWS, yet a cross-region switchover is followed soon after.
"""

from __future__ import annotations

import threading
import time

from sturdydb import ConfigurationError
from sturdydb.plugin_api import register_process_state
from sturdydb_aws import aws_client

__all__ = ["CACHE_SECONDS", "global_writer_region"]

CACHE_SECONDS = 60.0
_cache: dict[tuple[str, str | None], tuple[float, str]] = {}
_lock = threading.Lock()
register_process_state("sturdydb_iam.global_regions", _cache.clear)


def global_writer_region(host: str, profile: str | None) -> str:
    """The region of the writer cluster of the global database whose writer endpoint is ``host``."""
    key = (host.lower(), profile)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    identifier = host.split(".", 1)[0]
    fix = "set iam_region to the region of the global database's writer cluster"
    try:
        client = aws_client("rds", profile=profile, region=None)
        clusters = client.describe_global_clusters(GlobalClusterIdentifier=identifier)["GlobalClusters"]
    except Exception as exc:
        # Never the request's credentials: the exception's class and message name the problem.
        raise ConfigurationError(
            f"the iam plugin could not look up the writer region of the global database "
            f"{identifier!r} ({type(exc).__name__}: {exc}); {fix}") from None
    for cluster in clusters:
        endpoint = str(cluster.get("Endpoint") or "")
        if endpoint and endpoint.lower() != host.lower():
            continue
        for member in cluster.get("GlobalClusterMembers", []):
            if member.get("IsWriter"):
                region = str(member["DBClusterArn"]).split(":")[3]
                with _lock:
                    _cache[key] = (now, region)
                return region
    raise ConfigurationError(f"the global database {identifier!r} has no writer cluster with endpoint {host!r}; {fix}")
