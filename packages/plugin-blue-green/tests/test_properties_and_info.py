"""The plugin's code, weight and properties: the reference's names, cheap info, nothing leaks to the driver."""

from __future__ import annotations

import warnings

import psycopg
import pytest

import sturdydb
from sturdydb.plugin_api import build_properties
from sturdydb_blue_green._info import BG
from sturdydb_blue_green.plugin import BlueGreenPlugin
from sturdydb_blue_green.settings import Settings


def test_the_class_agrees_with_its_cheap_info() -> None:
    assert (BlueGreenPlugin.code, BlueGreenPlugin.weight) == (BG.code, BG.weight) == ("bg", 550)
    assert sturdydb.catalog().resolve("bg").cls is BlueGreenPlugin


def test_the_references_properties_are_read_with_their_defaults_in_seconds() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "has no effect" or "unknown" warning
        props = build_properties("host=db.example plugins=bg", psycopg.Connection.connect)
    settings = Settings.from_props(props)
    assert settings == Settings("1", 30.0, 60.0, 1.0, 0.1, 180.0, False, ())


def test_monitoring_properties_reach_only_the_monitor() -> None:
    props = build_properties(
        "host=db.example plugins=bg bg_id=blue1 blue-green-monitoring-connect_timeout=3 "
        "blue-green-monitoring-user=monitor", psycopg.Connection.connect,
    )
    assert Settings.from_props(props).monitoring == (("connect_timeout", "3"), ("user", "monitor"))
    assert props.driver_kwargs() == {"host": "db.example"}


def test_a_bad_value_is_refused_with_the_property_name() -> None:
    with pytest.raises(sturdydb.ConfigurationError, match="bg_interval_high_ms"):
        build_properties("host=db.example plugins=bg bg_interval_high_ms=fast", psycopg.Connection.connect)
