"""The otel plugin is known by its published PluginInfo: a process that lists the installed
plugins (any connect that needs the catalog) imports neither the plugin nor OpenTelemetry,
which costs tens of milliseconds at a cold start; selecting ``otel`` imports both. Runs in a
fresh interpreter, since the point is what a new process imports."""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = r"""
import json, sys
import psycopg, sturdydb

def loaded():
    return sorted(m for m in sys.modules if m.startswith(("sturdydb_otel", "opentelemetry")))

dsn = "host=127.0.0.1 port=5432 dbname=test user=postgres"
# The default chain (no 'plugins'): the catalog reads every installed plugin's info.
sturdydb.connect(psycopg.Connection.connect, dsn).close()
entry = sturdydb.catalog().entries["otel"]
out = {"weight": entry.weight, "loaded": entry.loaded, "before": loaded()}
sturdydb.connect(psycopg.Connection.connect, dsn, plugins="otel").close()
out["class"] = entry.cls.__module__ + "." + entry.cls.__qualname__
out["after"] = loaded()
print(json.dumps(out))
"""


def test_otel_and_opentelemetry_are_imported_only_when_selected() -> None:
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert (out["weight"], out["loaded"]) == (10, False)
    assert out["before"] == ["sturdydb_otel", "sturdydb_otel._info"]
    assert out["class"] == "sturdydb_otel.plugin.OtelPlugin"
    assert "opentelemetry.trace" in out["after"] and "sturdydb_otel.telemetry" in out["after"]
