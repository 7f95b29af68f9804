"""Cold start: with every sturdydb distribution installed, a connection imports only the plugins
it selects. The catalog learns the others' codes, properties and presets from their published
``PluginInfo`` (entry-point group ``sturdydb.plugin_info``), and validation keeps working.

Each case runs in a fresh interpreter, since the point is what a new process imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

_CHILD = r"""
import json, sys, warnings
import psycopg, sturdydb
plugins = sys.argv[1]
conn = sturdydb.connect(psycopg.Connection.connect,
                        "host=127.0.0.1 port=5432 dbname=test user=postgres",
                        plugins=plugins, failover_timeout_sec=7)
kwargs = conn.context.props.driver_kwargs()
conn.close()
after_connect = sorted(m for m in sys.modules if m.startswith("sturdydb_"))
from sturdydb.plugin_api import build_properties
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    build_properties(plugins=plugins, failover_timout_sec=1)  # a misspelling
print(json.dumps({
    "modules": sorted(m for m in sys.modules if m.startswith(("sturdydb_", "boto", "opentelemetry"))),
    "warnings": [str(w.message) for w in caught],
    "driver_kwargs": sorted(kwargs),
    "chain": list(conn.context.pipeline.codes),
    "after_connect": after_connect,
}))
"""

PLUGIN_MODULES = {"sturdydb_failover.plugin", "sturdydb_failover.tracker", "sturdydb_efm.plugin",
                  "sturdydb_iam.plugin", "sturdydb_secrets_manager.plugin",
                  "sturdydb_federated.plugin", "sturdydb_otel.plugin", "sturdydb_timing.plugins",
                  "sturdydb_dev.plugin"}


def _run(plugins: str, cache: Path | None = None) -> dict[str, object]:
    env = dict(os.environ)
    if cache is not None:
        env["STURDYDB_CACHE_DIR"] = str(cache)
    done = subprocess.run([sys.executable, "-c", _CHILD, plugins], capture_output=True,
                          text=True, timeout=60, check=False, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(("plugins", "imported"), [
    ("", set()),
    ("failover", {"sturdydb_failover.plugin"}),
    ("initial_connection,host_monitoring_v2", {"sturdydb_failover.plugin", "sturdydb_efm.plugin"}),
])
def test_a_connection_imports_only_the_plugins_it_selects(plugins: str, imported: set[str]) -> None:
    result = _run(plugins)
    modules = set(result["modules"])  # type: ignore[arg-type]
    assert modules & PLUGIN_MODULES == imported
    assert not {m for m in modules if m.startswith("boto")}  # no AWS plugin was selected
    assert not {m for m in modules if m.startswith("opentelemetry")}  # nor otel
    # The unselected plugins' properties are still known: validated, never passed on...
    assert "failover_timeout_sec" not in result["driver_kwargs"]  # type: ignore[operator]
    # ...and a misspelling still gets its hint, though failover itself may not be loaded.
    warned = " ".join(result["warnings"])  # type: ignore[arg-type]
    assert "'failover_timout_sec'" in warned and "did you mean 'failover_timeout_sec'" in warned.lower()


def test_with_the_listing_cached_a_connection_reads_only_the_infos_it_selects(tmp_path: Path) -> None:
    _run("failover,host_monitoring", tmp_path)  # the first process lists and learns
    result = _run("failover,host_monitoring", tmp_path)
    infos = {m for m in result["after_connect"] if m.endswith("._info")}  # type: ignore[union-attr]
    # The other plugins' property names came from the cache: their infos were not imported.
    assert infos == {"sturdydb_failover._info", "sturdydb_efm._info"}
    assert "failover_timeout_sec" not in result["driver_kwargs"]  # type: ignore[operator]
