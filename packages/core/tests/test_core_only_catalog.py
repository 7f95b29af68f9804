"""A connect with ``plugins=""`` and only core or driver properties skips the plugin catalog.

Building the catalog (listing the installed distributions, reading each plugin's info) is the
largest cost of a process's first connect; such a connect cannot use what it would find. Each
case runs in a fresh interpreter, since the point is what a new process does.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_CHILD = r"""
import json, sys, warnings
import psycopg, sturdydb
from sturdydb import _discovery
kwargs = json.loads(sys.argv[1])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        conn = sturdydb.connect(psycopg.Connection.connect,
                                "host=127.0.0.1 port=5432 dbname=test user=postgres", **kwargs)
        conn.cursor().execute("SELECT 1")
        conn.close()
        error = None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
print(json.dumps({"catalog_built": _discovery._catalog is not None, "error": error,
                  "warnings": [str(w.message) for w in caught]}))
"""


def _run(kwargs: dict[str, object]) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(kwargs)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("kwargs", [
    {"plugins": ""},
    {"plugins": "", "connect_timeout": 3, "autocommit": True, "application_name": "x"},
])
def test_no_plugins_and_known_properties_need_no_catalog(kwargs: dict[str, object]) -> None:
    result = _run(kwargs)
    assert result["error"] is None and result["warnings"] == []
    assert result["catalog_built"] is False


@pytest.mark.parametrize("kwargs", [
    {},  # the default chain: the installed plugins decide
    {"plugins": "", "profile_name": "no-plugins-at-all"},  # profiles may come from plugins
])
def test_anything_else_builds_the_catalog(kwargs: dict[str, object]) -> None:
    result = _run(kwargs)
    assert result["catalog_built"] is True


def test_a_core_reference_only_name_is_still_warned_and_kept_from_the_driver() -> None:
    result = _run({"plugins": "", "enable_telemetry": "false"})
    assert result["error"] is None  # libpq would refuse it as an invalid option
    assert any("has no effect in sturdydb" in w for w in result["warnings"])  # type: ignore[union-attr]
    assert result["catalog_built"] is False


def test_an_unknown_property_still_gets_its_warning() -> None:
    result = _run({"plugins": "", "conect_timeout": 3})
    assert result["catalog_built"] is True
    assert any("did you mean 'connect_timeout'" in w.lower() for w in result["warnings"])  # type: ignore[union-attr]
