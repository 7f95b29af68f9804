"""What the failover plugin tells ``sturdydb doctor`` about risky configurations (core names no plugin)."""

from __future__ import annotations

from sturdydb.plugin_api import build_properties
from sturdydb_failover.plugin import FailoverPlugin

CLUSTER = "db.cluster-abc.us-east-1.rds.amazonaws.com"


def test_failover_alone_without_a_timeout_is_a_risk() -> None:
    risks = FailoverPlugin.configuration_risks(build_properties(host=CLUSTER), ["failover"], CLUSTER)
    assert any("without host_monitoring or socket_timeout" in r for r in risks), risks


def test_failover_with_monitoring_or_a_socket_timeout_on_a_cluster_name_is_fine() -> None:
    props = build_properties(host=CLUSTER)
    assert FailoverPlugin.configuration_risks(props, ["failover", "host_monitoring"], CLUSTER) == []
    props = build_properties(host=CLUSTER, socket_timeout=5)
    assert FailoverPlugin.configuration_risks(props, ["failover"], CLUSTER) == []


def test_a_global_writer_endpoint_without_region_patterns_is_a_risk() -> None:
    host = "app.global-abc123.global.rds.amazonaws.com"
    props = build_properties(host=host, socket_timeout=5)
    risks = FailoverPlugin.configuration_risks(props, ["failover"], host)
    assert any("global_cluster_instance_host_patterns" in r for r in risks), risks
    props = build_properties(host=host, socket_timeout=5,
                             global_cluster_instance_host_patterns="us-east-1:?.abc.us-east-1.rds.amazonaws.com")
    assert FailoverPlugin.configuration_risks(props, ["failover"], host) == []


def test_an_address_without_an_instance_pattern_and_an_rds_proxy_are_risks() -> None:
    props = build_properties(host="10.1.2.3", socket_timeout=5)
    assert any("cluster_instance_host_pattern" in r for r in FailoverPlugin.configuration_risks(props, ["failover"], "10.1.2.3"))
    proxy = "app.proxy-abc.us-east-1.rds.amazonaws.com"
    props = build_properties(host=proxy, socket_timeout=5)
    assert any("RDS Proxy" in r for r in FailoverPlugin.configuration_risks(props, ["failover"], proxy))
