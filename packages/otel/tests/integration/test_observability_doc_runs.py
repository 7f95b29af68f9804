"""docs/observability.md's script runs as printed: a local failover, seen by the console exporters."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[4] / "docs" / "observability.md"


@pytest.mark.pg
def test_the_failover_example_prints_the_documented_spans_and_metrics(tmp_path: Path) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    script = tmp_path / "observe_failover.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "application saw: FailoverSuccessError 08S02" in out
    for line_start in ("span sturdydb.connect {", "span sturdydb.host_state {", "span sturdydb.topology_change {",
                       "span sturdydb.failover {"):
        assert line_start in out
    assert "'sturdydb.failover.outcome': 'success'" in out
    for metric in ("db.client.operation.duration", "sturdydb.failover.count", "sturdydb.failover.duration",
                   "db.client.connection.create_time"):
        assert f'"name": "{metric}"' in out
