"""``sturdydb doctor`` against the machine's servers: report contents, JSON, exit codes, secrets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sturdydb.cli import main


def test_doctor_reports_dialects_chain_and_property_sources(capsys: pytest.CaptureFixture[str], pg_conninfo: str) -> None:
    code = main(["doctor", pg_conninfo + " password=hunter2", "plugins=example_execute_time", "socket_timeout=3"])
    out = capsys.readouterr().out
    assert code == 0
    assert "driver dialect:   psycopg" in out
    assert "database dialect: pg" in out
    assert "writer  127.0.0.1" in out
    assert "example_execute_time" in out and "sturdydb-execute-time" in out
    assert "socket_timeout" in out and "keyword" in out
    assert "hunter2" not in out
    assert "connect_timeout is not set" in out


def test_doctor_json_for_mysql(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "mysql://root@127.0.0.1:3306/test", "--json", "plugins=", "topology_refreshms=3"])
    report = json.loads(capsys.readouterr().out)
    assert code == 2  # the misspelt property reaches the driver, which refuses it
    assert any("Did you mean 'topology_refresh_ms'" in w for w in report["warnings"])
    code = main(["doctor", "mysql://root@127.0.0.1:3306/test", "--json", "plugins=", "connect_timeout=5"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["driver_dialect"] == "mysql-connector-python"
    assert report["database_dialect"] == "mysql"
    assert report["plugin_chain"] == []
    assert report["properties"]["connect_timeout"] == {"value": 5.0, "source": "keyword"}


def test_doctor_exits_non_zero_with_the_reason_when_it_cannot_connect() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sturdydb.cli", "doctor", "host=127.0.0.1 port=1 dbname=test user=postgres",
         "connect_timeout=2"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "cannot connect" in proc.stdout and "Connection refused" in proc.stdout


def test_doctor_rejects_bad_configuration_with_exit_1(capsys: pytest.CaptureFixture[str], pg_conninfo: str) -> None:
    assert main(["doctor", pg_conninfo, "plugins=no_such_plugin"]) == 1
    assert "unknown plugin code 'no_such_plugin'" in capsys.readouterr().out
