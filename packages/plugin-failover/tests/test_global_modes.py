"""Failover modes of a global database by home region (the reference's gdb_failover)."""

from __future__ import annotations

import pytest

import sturdydb
from sturdydb import HostInfo
from sturdydb.plugin_api import build_properties
from sturdydb_failover.global_modes import GlobalMode, GlobalSettings, plan
from sturdydb_failover.settings import FailoverMode

EAST = HostInfo("a", region="us-east-1")
WEST = HostInfo("b", region="us-west-2")


def test_defaults_follow_the_endpoint_kind_and_the_home_region_comes_from_the_host() -> None:
    writer = GlobalSettings.from_props(build_properties(), "db.cluster-abc.us-east-1.rds.amazonaws.com")
    assert (writer.home_region, writer.active, writer.inactive) == (
        "us-east-1", GlobalMode.STRICT_WRITER, GlobalMode.STRICT_WRITER)
    reader = GlobalSettings.from_props(build_properties(), "db.cluster-ro-abc.us-west-2.rds.amazonaws.com")
    assert reader.active is GlobalMode.HOME_READER_OR_WRITER and reader.home_region == "us-west-2"
    glob = GlobalSettings.from_props(build_properties(), "db.global-abc.global.rds.amazonaws.com")
    assert glob.active is GlobalMode.STRICT_WRITER and glob.home_region is None


def test_active_and_inactive_modes_by_where_the_writer_is() -> None:
    props = build_properties(failover_home_region="US-EAST-1", active_home_failover_mode="strict-writer",
                             inactive_home_failover_mode="strict-home-reader")
    settings = GlobalSettings.from_props(props, "10.0.0.1")
    assert settings.mode_for("us-east-1") is GlobalMode.STRICT_WRITER
    assert settings.mode_for("us-west-2") is GlobalMode.STRICT_HOME_READER
    assert settings.mode_for(None) is GlobalMode.STRICT_HOME_READER


def test_an_unknown_mode_is_refused_with_the_choices() -> None:
    with pytest.raises(sturdydb.ConfigurationError, match="strict_home_reader"):
        build_properties(active_home_failover_mode="home-reader")


def test_without_a_home_region_a_global_failover_says_which_property_to_set() -> None:
    settings = GlobalSettings.from_props(build_properties(), "db.global-abc.global.rds.amazonaws.com")
    with pytest.raises(sturdydb.ConfigurationError, match="failover_home_region"):
        settings.mode_for("us-east-1")


@pytest.mark.parametrize(("mode", "failover_mode", "east_ok", "west_ok"), [
    (GlobalMode.STRICT_WRITER, FailoverMode.STRICT_WRITER, True, True),
    (GlobalMode.STRICT_HOME_READER, FailoverMode.STRICT_READER, True, False),
    (GlobalMode.STRICT_OUT_OF_HOME_READER, FailoverMode.STRICT_READER, False, True),
    (GlobalMode.STRICT_ANY_READER, FailoverMode.STRICT_READER, True, True),
    (GlobalMode.HOME_READER_OR_WRITER, FailoverMode.READER_OR_WRITER, True, False),
    (GlobalMode.OUT_OF_HOME_READER_OR_WRITER, FailoverMode.READER_OR_WRITER, False, True),
    (GlobalMode.ANY_READER_OR_WRITER, FailoverMode.READER_OR_WRITER, True, True),
])
def test_each_mode_maps_onto_a_plain_mode_and_a_region_filter(
    mode: GlobalMode, failover_mode: FailoverMode, east_ok: bool, west_ok: bool,
) -> None:
    steps = plan(mode, "us-east-1")
    assert steps.mode is failover_mode
    ok = steps.reader_ok or (lambda host: True)
    assert (ok(EAST), ok(WEST)) == (east_ok, west_ok)
