"""Every duration property refuses NaN, infinity and absurd values, naming the accepted range.

The specs come from the live registry, so every installed plugin's durations are checked too
(the integration session installs them all; here at least the core's).
"""

from __future__ import annotations

import math

import psycopg
import pytest

import sturdydb
from sturdydb._discovery import catalog
from sturdydb._errors import ConfigurationError
from sturdydb._properties import MAX_DURATION_S, PropertySpec


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _durations() -> list[PropertySpec]:
    return [s for s in catalog().registry if s.unit in ("s", "ms") and s.type in (int, float)]


DURATIONS = _durations()
ABSURD: list[object] = [float("nan"), float("inf"), float("-inf"), "nan", "NaN", "inf", "-Infinity", "1e400"]


def test_the_core_declares_durations() -> None:
    names = {s.name for s in DURATIONS}
    assert {"socket_timeout", "connect_timeout", "auxiliary_query_timeout_sec", "topology_refresh_ms"} <= names


@pytest.mark.parametrize("spec", DURATIONS, ids=[s.name for s in DURATIONS])
def test_a_duration_refuses_nan_infinity_and_absurd_values(spec: PropertySpec) -> None:
    low, high = spec.bounds()
    assert low is not None and high is not None, f"{spec.name} must have both bounds"
    assert math.isfinite(low) and math.isfinite(high)
    if spec.unit == "s" and spec.maximum is None:
        assert high == MAX_DURATION_S
    if spec.unit == "ms" and spec.maximum is None:
        assert high == MAX_DURATION_S * 1000
    bad = [*ABSURD, high * 10 + 1, str(high * 10 + 1), low - 1, -1e18]
    for value in bad:
        with pytest.raises(ConfigurationError) as info:
            spec.coerce(value)
        message = str(info.value)
        assert spec.name in message
        assert "finite number" in message
        assert f"at most {_n(high)}" in message, message
        assert f"(in {spec.unit})" in message
    # The declared default and both ends of the range are accepted.
    if spec.default is not None:
        assert spec.coerce(spec.default) == spec.default
    assert spec.coerce(high) == high
    assert spec.coerce(_n(low)) == low


def test_connect_refuses_a_nan_timeout_before_connecting() -> None:
    for name, value in (("socket_timeout", float("nan")), ("auxiliary_query_timeout_sec", "inf"),
                        ("topology_refresh_ms", -1), ("connect_timeout", 1e12)):
        # Port 1 is never listened on: reaching the driver would fail differently.
        with pytest.raises(ConfigurationError, match=name) as info:
            sturdydb.connect(psycopg.Connection.connect, "host=127.0.0.1 port=1 dbname=test", plugins="",
                             **{name: value})
        assert "at least 0 and at most" in str(info.value)


def test_keepalive_options_stay_within_what_linux_accepts() -> None:
    registry = catalog().registry
    for name, high in (("tcp_keepalive_time", 32767), ("tcp_keepalive_interval", 32767), ("tcp_keepalive_probes", 127)):
        spec = registry.get(name)
        assert spec is not None
        assert spec.coerce(high) == high
        with pytest.raises(ConfigurationError, match=f"at most {high}"):
            spec.coerce(high + 1)
        with pytest.raises(ConfigurationError, match="finite"):
            spec.coerce("nan")
