"""Profiles: built-in presets, application presets, and explicit properties winning."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

import sturdydb
from sturdydb._config import build_properties
from sturdydb._discovery import catalog
from sturdydb._drivers import driver_dialect_for
from sturdydb._errors import ConfigurationError
from sturdydb._profiles import BUILTIN_PROFILES


@pytest.fixture(autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    sturdydb.unregister_profile("app-test")


def _props(**kwargs: object) -> sturdydb._properties.Properties:
    return build_properties(catalog(), driver_dialect_for(psycopg.Connection.connect), "", dict(kwargs))


def test_builtin_presets_are_documented_and_name_no_plugin() -> None:
    # The Aurora presets moved to sturdydb-failover (its tests check them): the core's own
    # presets name no plugin code.
    names = {p.name for p in BUILTIN_PROFILES}
    assert "passthrough" in names
    assert all(p.doc for p in BUILTIN_PROFILES)
    assert all(not p.plugins for p in BUILTIN_PROFILES)


def test_a_preset_sets_plugins_and_values_and_explicit_properties_win() -> None:
    sturdydb.register_profile("app-test", plugins="", properties={"topology_refresh_ms": 1234,
                                                                  "socket_timeout": 9})
    props = _props(profile_name="app-test", socket_timeout=1)
    assert props.get("plugins") == ""
    assert props.get("topology_refresh_ms") == 1234
    assert props.sources["topology_refresh_ms"] == "profile:app-test"
    assert props.get("socket_timeout") == 1
    assert props.sources["socket_timeout"] == "keyword"


def test_preset_values_are_validated_like_any_other() -> None:
    sturdydb.register_profile("app-test", properties={"topology_refresh_ms": "often"})
    with pytest.raises(ConfigurationError, match="profile app-test"):
        _props(profile_name="app-test")


def test_unknown_profile_lists_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="Did you mean 'passthrough'") as info:
        _props(profile_name="passthrogh")
    assert "register_profile" in str(info.value)


def test_passthrough_profile_connects_with_no_plugins(pg_conninfo: str) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, profile_name="passthrough") as conn:
        assert conn.context.pipeline.codes == ()


def test_a_preset_naming_a_plugin_that_is_not_installed_says_which() -> None:
    sturdydb.register_profile("app-test", plugins="t_not_installed_anywhere", properties={})
    with pytest.raises(ConfigurationError) as info:
        _props(profile_name="app-test")
    message = str(info.value)
    assert "profile 'app-test'" in message and "'t_not_installed_anywhere'" in message
    assert "not installed" in message


def test_an_explicit_plugins_property_overrides_a_preset_with_missing_plugins() -> None:
    sturdydb.register_profile("app-test", plugins="t_not_installed_anywhere",
                              properties={"topology_refresh_ms": 1234})
    props = _props(profile_name="app-test", plugins="")
    assert props.get("plugins") == ""
    assert props.get("topology_refresh_ms") == 1234
