"""``python -m sturdydb`` behaves like the ``sturdydb`` console script (same parser, same output)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sturdydb._cli import properties_markdown


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sturdydb", *args], capture_output=True, text=True, timeout=120)


def test_python_m_sturdydb_prints_the_configuration_reference() -> None:
    proc = _run("properties", "--markdown")
    assert proc.returncode == 0, proc.stderr
    # The same text the console script's code produces in this interpreter.
    assert proc.stdout == properties_markdown()
    assert "`connect_timeout`" in proc.stdout


def test_python_m_sturdydb_has_the_console_script_name_and_subcommands() -> None:
    proc = _run("doctor", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: sturdydb doctor")
    assert "--json" in proc.stdout


@pytest.mark.parametrize("args", [(), ("no-such-command",)])
def test_python_m_sturdydb_rejects_a_missing_or_unknown_command_like_the_script(args: tuple[str, ...]) -> None:
    proc = _run(*args)
    assert proc.returncode == 2
    assert "usage: sturdydb" in proc.stderr
