"""The failover properties: reference names, defaults and units, validation, mode defaults."""

from __future__ import annotations

import pytest

import sturdydb
from sturdydb import catalog
from sturdydb.plugin_api import build_properties
from sturdydb_failover import FailoverMode, FailoverSettings

CLUSTER = "db.cluster-abc123def456.us-east-1.rds.amazonaws.com"
READER = "db.cluster-ro-abc123def456.us-east-1.rds.amazonaws.com"


def settings(host: str = CLUSTER, **kwargs: object) -> FailoverSettings:
    props = build_properties(host=host, **kwargs)
    return FailoverSettings.from_props(props, host)


def test_defaults_follow_the_reference() -> None:
    reg = catalog().registry
    expected = {
        "enable_failover": True,
        "failover_timeout_sec": 300.0,
        "failover_cluster_topology_refresh_rate_sec": 2.0,
        "failover_reader_connect_timeout_sec": 30.0,
        "failover_writer_reconnect_interval_sec": 2.0,
        "failover_reader_host_selector_strategy": "random",
        "cluster_topology_high_refresh_rate_ms": 100,
        "failover_probe_interval_ms": 20,
        "enable_connect_failover": False,
        "topology_refresh_ms": 30000,
    }
    for name, default in expected.items():
        spec = reg.get(name)
        assert spec is not None, name
        assert spec.default == default, name
    assert reg.get("failover_mode").default is None  # type: ignore[union-attr]
    assert reg.get("failover_timeout_sec").unit == "s"  # type: ignore[union-attr]
    assert reg.get("cluster_topology_high_refresh_rate_ms").unit == "ms"  # type: ignore[union-attr]


def test_the_default_mode_depends_on_the_endpoint() -> None:
    assert settings(CLUSTER).mode is FailoverMode.STRICT_WRITER
    assert settings(READER).mode is FailoverMode.READER_OR_WRITER
    assert settings("10.0.0.1").mode is FailoverMode.STRICT_WRITER


@pytest.mark.parametrize(("spelling", "mode"), [
    ("strict_writer", FailoverMode.STRICT_WRITER),
    ("strict-writer", FailoverMode.STRICT_WRITER),
    ("Strict-Reader", FailoverMode.STRICT_READER),
    ("reader-or-writer", FailoverMode.READER_OR_WRITER),
])
def test_hyphenated_spellings_select_the_same_mode(spelling: str, mode: FailoverMode) -> None:
    assert settings(failover_mode=spelling).mode is mode


def test_a_misspelt_mode_is_rejected_instead_of_becoming_reader_or_writer() -> None:
    with pytest.raises(sturdydb.ConfigurationError, match="strict_writer"):
        settings(failover_mode="strict_writr")


@pytest.mark.parametrize(("name", "value"), [
    ("failover_timeout_sec", "-1"),
    ("failover_timeout_sec", "soon"),
    ("cluster_topology_high_refresh_rate_ms", "0"),
    ("enable_failover", "maybe"),
    ("failover_reader_host_selector_strategy", "fastest"),
])
def test_bad_values_fail_fast_with_the_property_name(name: str, value: str) -> None:
    with pytest.raises(sturdydb.ConfigurationError, match=name):
        settings(**{name: value})


def test_an_instance_host_pattern_without_a_placeholder_is_rejected() -> None:
    with pytest.raises(sturdydb.ConfigurationError, match="cluster_instance_host_pattern"):
        settings("10.0.0.1", cluster_instance_host_pattern="db.example.com")


def test_monitor_connections_get_the_prefixed_properties_and_the_reference_defaults() -> None:
    s = settings(**{"topology-monitoring-connect_timeout": "3", "topology-monitoring-sslmode": "disable"})
    assert s.monitor_props == {"connect_timeout": 3.0, "socket_timeout": 5.0}
    assert s.monitor_kwargs == {"sslmode": "disable"}
    props = build_properties(**{"topology-monitoring-connect_timeout": "3", "host": CLUSTER})
    assert "topology-monitoring-connect_timeout" not in props.driver_kwargs()


def test_units_are_converted_once() -> None:
    s = settings(topology_refresh_ms=500, cluster_topology_high_refresh_rate_ms=50, failover_timeout_sec=7)
    assert (s.refresh, s.high_refresh, s.timeout) == (0.5, 0.05, 7.0)
    # A refresh faster than the high rate would only spin: the high rate is the floor.
    assert settings(topology_refresh_ms=0).refresh == 0.1


def test_both_codes_and_the_tracker_are_published_with_the_reference_weights() -> None:
    cat = catalog()
    failover = cat.resolve("failover").cls
    assert cat.resolve("failover_v2").cls is failover
    assert failover.weight == 400
    assert cat.resolve("aurora_connection_tracker").cls.weight == 100
    assert cat.entries["failover"].distribution == "sturdydb-failover"


def test_failover_retry_reads_is_an_opt_in_failover_property() -> None:
    spec = catalog().registry.get("failover_retry_reads")
    assert spec is not None and spec.default is False and spec.owner == "failover"
    assert "Writes are never re-run" in spec.doc
    assert settings().retry_reads is False
    assert settings(failover_retry_reads="true").retry_reads is True
    with pytest.raises(sturdydb.ConfigurationError, match="failover_retry_reads"):
        settings(failover_retry_reads="sometimes")


def test_the_role_a_plugin_wants_decides_the_failover_mode() -> None:
    """Read/write splitting sets ``wanted_role``: a reader's failure is replaced by a reader."""
    from types import SimpleNamespace

    from sturdydb import HostRole
    from sturdydb_failover.plugin import _mode_for
    from sturdydb_failover.settings import FailoverMode

    def mode(wanted: HostRole | None, configured: FailoverMode) -> FailoverMode:
        return _mode_for(SimpleNamespace(wanted_role=wanted), configured)  # type: ignore[arg-type]

    assert mode(None, FailoverMode.STRICT_WRITER) is FailoverMode.STRICT_WRITER
    assert mode(HostRole.READER, FailoverMode.STRICT_WRITER) is FailoverMode.READER_OR_WRITER
    assert mode(HostRole.READER, FailoverMode.STRICT_READER) is FailoverMode.STRICT_READER
    assert mode(HostRole.WRITER, FailoverMode.READER_OR_WRITER) is FailoverMode.STRICT_WRITER
