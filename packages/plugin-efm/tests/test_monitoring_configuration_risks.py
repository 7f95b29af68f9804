"""What host monitoring tells ``sturdydb doctor`` about risky configurations (core names no plugin)."""

from __future__ import annotations

from sturdydb.plugin_api import build_properties
from sturdydb_efm.plugin import HostMonitoringPlugin


def test_a_detection_time_of_a_minute_or_more_is_a_risk() -> None:
    props = build_properties(host="127.0.0.1", failure_detection_time_ms=60000)
    risks = HostMonitoringPlugin.configuration_risks(props, ["host_monitoring"], "127.0.0.1")
    assert risks == ["failure_detection_time_ms=60000: a dead host is noticed only after a minute or more"]


def test_the_default_detection_time_is_fine() -> None:
    props = build_properties(host="127.0.0.1")
    assert HostMonitoringPlugin.configuration_risks(props, ["host_monitoring"], "127.0.0.1") == []
