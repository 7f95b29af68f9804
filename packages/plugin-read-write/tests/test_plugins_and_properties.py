"""The catalog knows both codes with their properties; bad settings fail with a clear message."""

from __future__ import annotations

import pytest

import sturdydb
from sturdydb.plugin_api import build_properties
from sturdydb_read_write._info import READ_WRITE_SPLITTING, SRW
from sturdydb_read_write.plugin import ReadWriteSplittingPlugin
from sturdydb_read_write.settings import parse_endpoint
from sturdydb_read_write.simple import SimpleReadWriteSplittingPlugin


def test_the_classes_agree_with_their_published_info() -> None:
    assert (ReadWriteSplittingPlugin.code, ReadWriteSplittingPlugin.weight) == (READ_WRITE_SPLITTING.code, 300)
    assert (SimpleReadWriteSplittingPlugin.code, SimpleReadWriteSplittingPlugin.weight) == (SRW.code, 310)


def test_the_properties_are_declared_with_the_reference_defaults() -> None:
    props = build_properties(host="h")
    assert props.get("read_write_pools") is False
    assert props.get("read_write_pool_size") == 5
    assert props.get("read_write_pool_idle_timeout_ms") == 1_800_000
    assert props.get("srw_verify_new_connections") is True
    assert props.get("srw_connect_retry_timeout_ms") == 60_000
    assert props.get("srw_connect_retry_interval_ms") == 1_000
    assert props.get("reader_host_selector_strategy") == "random"
    assert build_properties(host="h", srw_verify_initial_connection_type="Writer").get(
        "srw_verify_initial_connection_type") == "writer"


def test_bad_values_are_refused() -> None:
    with pytest.raises(sturdydb.ConfigurationError, match="read_write_pool_size"):
        build_properties(host="h", read_write_pool_size=0)
    with pytest.raises(sturdydb.ConfigurationError, match="srw_verify_initial_connection_type"):
        build_properties(host="h", srw_verify_initial_connection_type="primary")


@pytest.mark.parametrize(("value", "host", "port"), [
    ("db.cluster-ro-x.us-east-1.rds.amazonaws.com:5432", "db.cluster-ro-x.us-east-1.rds.amazonaws.com", 5432),
    ("replica", "replica", None),
    ("[::1]:3306", "::1", 3306),
])
def test_endpoints_parse(value: str, host: str, port: int | None) -> None:
    found = parse_endpoint("srw_read_endpoint", value)
    assert (found.host, found.port) == (host, port)


@pytest.mark.parametrize("value", [None, "", "host:port"])
def test_bad_endpoints_name_the_property_and_the_fix(value: str | None) -> None:
    with pytest.raises(sturdydb.ConfigurationError, match="srw_read_endpoint"):
        parse_endpoint("srw_read_endpoint", value)


def test_doctor_warns_about_splitting_without_failover() -> None:
    props = build_properties(host="h")
    risks = ReadWriteSplittingPlugin.configuration_risks(props, ["read_write_splitting"], "h")
    assert len(risks) == 1 and "add 'failover'" in risks[0]
    assert ReadWriteSplittingPlugin.configuration_risks(props, ["read_write_splitting", "failover"], "h") == []
