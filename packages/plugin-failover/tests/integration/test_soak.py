"""The short fault soak CI runs: ``benchmarks/soak.py`` for 30 s per engine, in its own process.

A separate process because the soak's hygiene checks (threads and sockets left after
``sturdydb.release_resources()``) and its prompt-exit check need a process of their own, and
because its verdict (zero lost, duplicated and wrong-node writes, only documented errors) is
the script's exit status. ``nox -s soak`` runs the long version.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
DURATION = 30


@pytest.mark.parametrize("engine", ["pg", "mysql"])
@pytest.mark.timeout(DURATION + 240)
def test_short_fault_soak(engine: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--engine", engine, "--duration", str(DURATION)],
        capture_output=True, text=True, timeout=DURATION + 220, cwd=ROOT,
    )
    assert proc.stdout.strip(), f"the soak printed no report:\n{proc.stderr[-4000:]}"
    report = json.loads(proc.stdout)
    checks = report["checks"][engine]
    writes = report["writes"][engine]
    summary = f"{json.dumps(report, indent=1)[:6000]}\n--- stderr ---\n{proc.stderr[-3000:]}"
    # The soak must have done real work through real faults, or its verdict proves nothing.
    assert writes["acknowledged"] > 1000, summary
    assert sum(report["faults"][engine].values()) >= 3, summary
    assert writes["lost"] == 0, summary
    assert writes["duplicated"] == 0, summary
    assert writes["wrong node"] == 0, summary
    assert writes["false not applied"] == 0, summary
    failed = [name for name, verdict in checks.items() if verdict != "pass"]
    assert not failed, f"failed checks {failed}\n{summary}"
    assert proc.returncode == 0, summary
