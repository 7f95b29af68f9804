"""Properties: coercion to declared types, clear errors, unknown-name warnings, secrets."""

from __future__ import annotations

import logging

import psycopg
import pytest

import sturdydb
from sturdydb._config import UnknownPropertyWarning, build_properties
from sturdydb._discovery import catalog
from sturdydb._drivers import driver_dialect_for
from sturdydb._errors import ConfigurationError
from sturdydb._properties import CORE_PROPERTIES, PropertyRegistry, PropertySpec, mask_secrets


def _props(conninfo: str = "", **kwargs: object) -> sturdydb._properties.Properties:
    driver = driver_dialect_for(psycopg.Connection.connect)
    return build_properties(catalog(), driver, conninfo, dict(kwargs))


@pytest.mark.parametrize(("given", "expected"), [
    ("true", True), ("FALSE", False), ("1", True), ("0", False), ("yes", True), ("off", False),
    (True, True), (0, False),
])
def test_booleans_are_read_the_way_people_write_them(given: object, expected: bool) -> None:
    assert _props(auto_sort_wrapper_plugin_order=given).get("auto_sort_wrapper_plugin_order") is expected


def test_string_false_really_is_false() -> None:
    # The reference wrapper treats the string "False" as true; we must not.
    assert _props("auto_sort_wrapper_plugin_order=False").get("auto_sort_wrapper_plugin_order") is False


def test_numbers_are_converted_and_defaults_apply() -> None:
    props = _props("topology_refresh_ms=1500 socket_timeout=2.5")
    assert props.get("topology_refresh_ms") == 1500
    assert props.get("socket_timeout") == 2.5
    assert props.get("auxiliary_query_timeout_sec") == 5.0  # declared default
    assert props.sources["topology_refresh_ms"] == "string"


def test_keywords_override_the_string() -> None:
    props = _props("topology_refresh_ms=1500", topology_refresh_ms=10)
    assert props.get("topology_refresh_ms") == 10
    assert props.sources["topology_refresh_ms"] == "keyword"


@pytest.mark.parametrize(("name", "value", "fragment"), [
    ("topology_refresh_ms", "soon", "expects a whole number"),
    ("topology_refresh_ms", -5, "at least 0"),
    ("socket_timeout", True, "expects a number"),
    ("auto_sort_wrapper_plugin_order", "maybe", "expects a boolean"),
    ("reader_host_selector_strategy", "fastest", "accepts 'random'"),
    ("wrapper_dialect", "oracle", "accepts 'aurora-pg'"),
    ("plugins", 3, "expects a string"),
])
def test_bad_values_say_what_is_accepted(name: str, value: object, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment) as info:
        _props(**{name: value})
    assert name in str(info.value)


def test_choices_suggest_the_closest_value() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'round_robin'"):
        _props(reader_host_selector_strategy="round_robn")


def test_spellings_are_normalised() -> None:
    props = _props(reader_host_selector_strategy="Round-Robin", wrapper_dialect="AURORA_PG")
    assert props.get("reader_host_selector_strategy") == "round_robin"
    assert props.get("wrapper_dialect") == "aurora-pg"


def test_unknown_property_warns_with_the_nearest_known_name(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.warns(UnknownPropertyWarning, match="Did you mean 'topology_refresh_ms'"):
        props = _props(topology_refresh_msec=5)
    assert props.driver_kwargs()["topology_refresh_msec"] == 5


def test_driver_options_are_known_and_do_not_warn(recwarn: pytest.WarningsRecorder) -> None:
    props = _props("sslmode=disable application_name=x", autocommit=True)
    assert not [w for w in recwarn if issubclass(w.category, UnknownPropertyWarning)]
    assert props.driver_kwargs() == {"sslmode": "disable", "application_name": "x", "autocommit": True}


def test_our_properties_never_reach_the_driver() -> None:
    props = _props("host=h port=1 user=u password=p dbname=d plugins='' topology_refresh_ms=1")
    assert props.driver_kwargs() == {
        "host": "h", "port": "1", "user": "u", "password": "p", "database": "d",
    }


def test_prefixed_families_are_stripped_once_declared() -> None:
    registry = PropertyRegistry(CORE_PROPERTIES)
    registry.add([PropertySpec("monitoring-", str, None, "monitoring connection", owner="x", prefix=True)])
    props = sturdydb._properties.Properties({"monitoring-connect_timeout": "3", "sslmode": "x"}, {}, registry)
    assert props.driver_kwargs() == {"sslmode": "x"}
    assert props.with_prefix("monitoring-") == {"connect_timeout": "3"}


def test_secrets_are_masked_in_repr_and_masked_views() -> None:
    with pytest.warns(UnknownPropertyWarning):
        props = _props("user=app password=hunter2 my_api_password=s3cret")
    assert "hunter2" not in repr(props)
    assert props.masked()["password"] == "***"
    assert props.masked()["my_api_password"] == "***"
    assert mask_secrets({"password": "x", "user": "y"}) == {"password": "***", "user": "y"}


def test_secrets_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.warns(UnknownPropertyWarning):
        _props("password=hunter2 pasword=hunter3")
    assert "hunter2" not in caplog.text
    assert "hunter3" not in caplog.text


@pytest.mark.parametrize(("name", "value"), [("password", 123456789), ("my_api_token", True), ("x_secret", 3)])
def test_bad_secret_values_are_not_echoed(name: str, value: object) -> None:
    registry = PropertyRegistry(CORE_PROPERTIES)
    registry.add([PropertySpec("my_api_token", str, None, "t"), PropertySpec("x_secret", str, None, "s")])
    spec = registry.get(name)
    assert spec is not None
    with pytest.raises(ConfigurationError) as info:
        spec.coerce(value)
    assert str(value) not in str(info.value)
    assert "not shown" in str(info.value)


def test_derived_settings_are_built_once_per_properties_and_key() -> None:
    props = _props("topology_refresh_ms=1500")
    built: list[str] = []

    def build(tag: str, source: sturdydb._properties.Properties) -> tuple[str, int]:
        built.append(tag)
        return (tag, source.get("topology_refresh_ms"))

    first = props.derived(("test", "a"), lambda: build("a", props))
    assert props.derived(("test", "a"), lambda: build("again", props)) is first
    assert props.derived(("test", "b"), lambda: build("b", props)) == ("b", 1500)
    assert built == ["a", "b"]
    # Another configuration (or a copy with overrides) has its own results.
    other = props.copy(topology_refresh_ms=900)
    assert other.derived(("test", "a"), lambda: build("a", other)) == ("a", 900)
    assert built == ["a", "b", "a"]


def test_a_failing_derivation_is_not_cached() -> None:
    props = _props()
    calls: list[int] = []

    def bad() -> int:
        calls.append(1)
        raise ConfigurationError("bad setting")

    for _ in range(2):
        with pytest.raises(ConfigurationError, match="bad setting"):
            props.derived("test.bad", bad)
    assert len(calls) == 2
