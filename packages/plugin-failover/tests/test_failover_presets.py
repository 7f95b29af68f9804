"""sturdydb-failover's presets: contributed through ``sturdydb_add_profiles``, not by the core.

The failover tests run with only the core and this distribution installed, so the presets
that also name ``host_monitoring`` (sturdydb-efm) must say that it is missing.
"""

from __future__ import annotations

import psycopg
import pytest

from sturdydb import ConfigurationError, catalog
from sturdydb.plugin_api import Properties, build_properties


def _props(**kwargs: object) -> Properties:
    return build_properties("", psycopg.Connection.connect, **kwargs)


def test_the_aurora_presets_come_from_this_distribution_and_are_documented() -> None:
    profiles = catalog().all_profiles()
    for name in ("aurora-fast", "aurora-relaxed", "failover-only"):
        assert profiles[name].source == "sturdydb-failover"
        assert profiles[name].doc


def test_unknown_profile_suggests_a_contributed_one() -> None:
    with pytest.raises(ConfigurationError, match="Did you mean 'aurora-fast'") as info:
        _props(profile_name="aurora-fst")
    assert "register_profile" in str(info.value)


def test_failover_only_applies_with_this_distribution_alone() -> None:
    props = _props(profile_name="failover-only")
    assert props.get("plugins") == "failover"
    assert props.sources["plugins"] == "profile:failover-only"


def test_a_preset_that_needs_host_monitoring_names_it_when_it_is_not_installed() -> None:
    if "host_monitoring" in catalog().entries:  # every package installed (a full environment)
        assert _props(profile_name="aurora-fast").get("failure_detection_count") == 2
        return
    with pytest.raises(ConfigurationError) as info:
        _props(profile_name="aurora-fast")
    message = str(info.value)
    assert "profile 'aurora-fast' (from sturdydb-failover)" in message
    assert "'host_monitoring'" in message and "'failover'" not in message
