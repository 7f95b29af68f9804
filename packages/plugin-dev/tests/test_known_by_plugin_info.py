"""The dev plugin is known by its published PluginInfo: a process lists it (code, weight)
without importing it, and selecting ``dev`` imports the class, which agrees with the info.
Runs in a fresh interpreter, since the point is what a new process imports."""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = r"""
import json, sys
import psycopg, sturdydb
entry = sturdydb.catalog().entries["dev"]
out = {"weight": entry.weight, "loaded_before": entry.loaded,
       "modules_before": sorted(m for m in sys.modules if m.startswith("sturdydb_dev"))}
import sturdydb_dev  # the package alone stays cheap too
out["after_package"] = sorted(m for m in sys.modules if m.startswith("sturdydb_dev"))
conn = sturdydb.connect(psycopg.Connection.connect, "host=127.0.0.1 port=5432 dbname=test user=postgres",
                        plugins="dev")
out["chain"] = list(conn.context.pipeline.codes)
out["class"] = type(conn.context.pipeline.plugins[0]).__qualname__
out["class_weight"] = conn.context.pipeline.plugins[0].weight
out["exported"] = sturdydb_dev.DevPlugin is type(conn.context.pipeline.plugins[0])
conn.close()
print(json.dumps(out))
"""


def test_dev_is_listed_without_import_and_loaded_when_selected() -> None:
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert (out["weight"], out["loaded_before"]) == (90_000, False)
    assert out["modules_before"] == ["sturdydb_dev", "sturdydb_dev._info"]
    assert out["after_package"] == out["modules_before"]
    assert out["chain"] == ["dev"]
    assert (out["class"], out["class_weight"], out["exported"]) == ("DevPlugin", 90_000, True)
