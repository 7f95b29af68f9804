"""connect_time and execute_time are known by their published PluginInfo: a process that does
not select them never imports them, yet their properties are validated and kept from the
driver. Each case runs in a fresh interpreter, since the point is what a new process imports."""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = r"""
import json, sys
import psycopg, sturdydb
from sturdydb import ConfigurationError
dsn = "host=127.0.0.1 port=5432 dbname=test user=postgres"
# plugins="" keeps the chain empty; the timing property makes the catalog read the infos.
conn = sturdydb.connect(psycopg.Connection.connect, dsn, plugins="", execute_time_log_level="INFO")
out = {"untouched": sorted(m for m in sys.modules if m.startswith("sturdydb_timing")),
       "driver_kwargs": sorted(conn.context.props.driver_kwargs()),
       "level": conn.context.props.get("execute_time_log_level")}
conn.close()
try:
    sturdydb.connect(psycopg.Connection.connect, dsn, plugins="", connect_time_log_level="loud")
except ConfigurationError as exc:
    out["refused"] = str(exc)
out["still_untouched"] = sorted(m for m in sys.modules if m.startswith("sturdydb_timing"))
entries = sturdydb.catalog().entries
out["weights"] = [entries["connect_time"].weight, entries["execute_time"].weight]
with sturdydb.connect(psycopg.Connection.connect, dsn, plugins="connect_time") as conn:
    out["chain"] = list(conn.context.pipeline.codes)
out["selected"] = sorted(m for m in sys.modules if m.startswith("sturdydb_timing"))
print(json.dumps(out))
"""


def test_the_timing_plugins_are_imported_only_when_selected() -> None:
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # Only the package and its data-only info module: no plugin, no totals.
    assert out["untouched"] == ["sturdydb_timing", "sturdydb_timing._info"]
    assert out["level"] == "info"  # coerced by the info's PropertySpec
    assert "execute_time_log_level" not in out["driver_kwargs"]
    assert "connect_time_log_level" in out["refused"] and "'loud'" in out["refused"]
    assert out["still_untouched"] == out["untouched"]
    assert out["weights"] == [55, 50]
    assert out["chain"] == ["connect_time"]
    assert "sturdydb_timing.plugins" in out["selected"]
