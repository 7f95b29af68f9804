"""``sturdydb doctor`` against the machine's servers: report contents, JSON, exit codes, secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence

import pytest

from sturdydb._cli import main


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
        [sys.executable, "-m", "sturdydb._cli", "doctor", "host=127.0.0.1 port=1 dbname=test user=postgres",
         "connect_timeout=2"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "cannot connect" in proc.stdout and "Connection refused" in proc.stdout


def test_doctor_rejects_bad_configuration_with_exit_1(capsys: pytest.CaptureFixture[str], pg_conninfo: str) -> None:
    assert main(["doctor", pg_conninfo, "plugins=no_such_plugin"]) == 1
    assert "unknown plugin code 'no_such_plugin'" in capsys.readouterr().out


def test_doctor_reports_the_risks_a_plugin_finds_in_its_own_configuration(
    capsys: pytest.CaptureFixture[str], pg_conninfo: str
) -> None:
    # Core has no table of plugin risks: each plugin in the chain contributes its own.
    import sturdydb

    class RiskyPlugin(sturdydb.Plugin):
        code = "risky_doctor_test"

        @classmethod
        def configuration_risks(cls, props: object, codes: Sequence[str], host: str) -> list[str]:
            return [f"risky_doctor_test sees {host} in chain {sorted(codes)}"]

    class BrokenCheckPlugin(sturdydb.Plugin):
        code = "broken_check_doctor_test"

        @classmethod
        def configuration_risks(cls, props: object, codes: Sequence[str], host: str) -> list[str]:
            raise RuntimeError("bug in a plugin's check")

    sturdydb.register_plugin(RiskyPlugin)
    sturdydb.register_plugin(BrokenCheckPlugin)
    try:
        code = main(["doctor", pg_conninfo, "--json", "plugins=risky_doctor_test,broken_check_doctor_test"])
    finally:
        sturdydb.unregister_plugin("risky_doctor_test")
        sturdydb.unregister_plugin("broken_check_doctor_test")
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert "risky_doctor_test sees 127.0.0.1 in chain ['broken_check_doctor_test', 'risky_doctor_test']" in report["warnings"]
    assert "plugin 'broken_check_doctor_test' failed to check its configuration: RuntimeError" in report["warnings"]
