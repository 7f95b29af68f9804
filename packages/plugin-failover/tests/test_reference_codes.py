"""The reference wrapper's plugin codes and properties that sturdydb-failover answers for."""

from __future__ import annotations

import warnings

import pytest

import sturdydb
from sturdydb import catalog
from sturdydb.plugin_api import build_properties


@pytest.fixture(autouse=True)
def _fresh() -> None:
    sturdydb.reset_process_state()  # the no-effect warning is given once per process


@pytest.mark.parametrize("code", ["failover_v2", "gdb_failover", "initial_connection", "stale_dns"])
def test_reference_codes_that_failover_does_select_it(code: str) -> None:
    cat = catalog()
    assert cat.resolve(code).cls is cat.resolve("failover").cls


@pytest.mark.parametrize(("code", "instead"), [
    ("read_write_splitting", "cluster-ro"),
    ("srw", "cluster-ro"),
    ("gdb_rw", "pip install sturdydb-read-write"),
    ("bg", "pip install sturdydb-blue-green"),
    ("custom_endpoint", "pip install sturdydb-custom-endpoint"),
    ("limitless", "pip install sturdydb-limitless"),
    ("fastest_response_strategy", "built into sturdydb"),
    ("execute_time", "pip install sturdydb-timing"),
    ("connect_time", "pip install sturdydb-timing"),
    ("dev", "pip install sturdydb-dev"),
])
def test_reference_codes_not_provided_are_refused_with_what_to_use(code: str, instead: str) -> None:
    if code in catalog().entries:  # an installed plugin of that code (the example) wins
        assert catalog().resolve(code).code == code
        return
    with pytest.raises(sturdydb.ConfigurationError) as caught:
        catalog().resolve(code)
    message = str(caught.value)
    assert "is not provided by the installed sturdydb distributions" in message and instead in message
    assert "sturdydb-failover" in message  # who says so
    assert "unknown plugin code" not in message


def test_reference_only_properties_warn_and_never_reach_the_driver() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        props = build_properties(host="h", enable_telemetry="False", telemetry_failover_additional_top_trace="true",
                                 **{"frt-connect_timeout": "3", "bg_id": "2"})
    kinds = {type(w.message).__name__ for w in caught}
    assert kinds == {"NoEffectPropertyWarning"}, [str(w.message) for w in caught]
    text = " ".join(str(w.message) for w in caught)
    assert "'enable_telemetry'" in text and "'telemetry_failover_additional_top_trace'" in text
    assert "frt-" not in text  # fastest_response's probe properties are real (core) ones
    assert "no effect in sturdydb" in text
    kwargs = props.driver_kwargs()
    for name in ("enable_telemetry", "telemetry_failover_additional_top_trace", "frt-connect_timeout", "bg_id"):
        assert name not in kwargs


def test_initial_connection_reader_strategy_is_validated() -> None:
    with pytest.raises(sturdydb.ConfigurationError, match="round_robin"):
        build_properties(reader_initial_connection_host_selector_strategy="fastest")
    props = build_properties(reader_initial_connection_host_selector_strategy="round-robin")
    assert props.get("reader_initial_connection_host_selector_strategy") == "round_robin"
