"""The README's demo (``./dev demo``) runs end to end and loses no committed row.

A shortened run on both engines: a real cluster, a frozen writer, a real failover. The
summary must show zero lost rows for sturdydb and writes resuming on the sturdydb side.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[4] / "demo" / "run_demo.py"


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_demo_fails_over_without_losing_rows(engine: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(DEMO), "--engine", engine, "--threads", "2", "--before", "1.5",
         "--after", "7", "--reboot-after", "5", "--dns-delay", "2", "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "sturdydb lost none and applied none twice." in out
    summary = {line.split()[0]: line.split() for line in out.splitlines()
               if line.startswith(("sturdydb ", "raw "))}
    sturdy = summary["sturdydb"]
    assert sturdy[-1] == "0"  # rows lost
    assert sturdy[1] != "never"  # writes resumed
    assert float(sturdy[1]) < 7
    assert list(tmp_path.glob("timeline-*.png"))
