"""Every installed package's duration properties refuse NaN, infinity and absurd values.

The unit test of the same rule sees only the core's properties (each package's unit session
installs the core and that package); here every package is installed, so each plugin's
durations go through the same checks.
"""

from __future__ import annotations

import math

import pytest

from sturdydb._discovery import reload_catalog
from sturdydb._errors import ConfigurationError

pytestmark = pytest.mark.integration


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def test_every_plugins_durations_are_bounded() -> None:
    cat = reload_catalog()
    for code in ("failover", "host_monitoring", "iam", "aws_secrets_manager", "federated_auth"):
        assert code in cat.entries, f"{code} must be installed for this test (nox -s integration)"
    durations = [s for s in cat.registry if s.unit in ("s", "ms") and s.type in (int, float)]
    owners = {s.owner for s in durations}
    assert {"core", "failover", "host_monitoring", "iam", "aws_secrets_manager"} <= owners, owners
    for spec in durations:
        low, high = spec.bounds()
        assert low is not None and high is not None and math.isfinite(low) and math.isfinite(high), spec.name
        if spec.default is not None:
            assert low <= spec.default <= high, f"{spec.name}: its default is outside its range"
        for value in (float("nan"), float("inf"), float("-inf"), "nan", "-inf", high * 10 + 1, low - 1):
            with pytest.raises(ConfigurationError) as info:
                spec.coerce(value)
            message = str(info.value)
            assert spec.name in message and "finite number" in message, message
            assert f"at least {_n(low)}" in message and f"at most {_n(high)}" in message, message
