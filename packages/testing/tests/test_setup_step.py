"""The set-up step behind ``./dev demo`` / ``./dev test`` (``tools/setup``) plans the right packages.

The step runs in dry-run mode (or with ``--no-install``), so nothing is ever installed: the
server programs are hidden from it by pointing its search (``STURDYDB_SETUP_BIN_DIRS``) at
an empty folder, or shown to it by pointing the search at the folders where this package's
own finder (``sturdydb_testing.binaries``) finds them, so the script and the finder must
agree on what "installed" means. ``apt-get`` and ``sudo`` on PATH are replaced by recorders
that fail the test if the step ever calls them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sturdydb_testing.binaries import find_mariadb, find_postgres

SETUP = Path(__file__).resolve().parents[3] / "tools" / "setup"
INSTALL = "apt-get update && apt-get install -y --no-install-recommends"


@pytest.fixture
def recorders(tmp_path: Path) -> Path:
    """A folder with ``apt-get`` and ``sudo`` stand-ins that only record being called."""
    folder = tmp_path / "recorders"
    folder.mkdir()
    log = tmp_path / "calls.log"
    for name in ("apt-get", "sudo"):
        script = folder / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\nexit 1\n')
        script.chmod(0o755)
    return folder


def _run(
    recorders: Path, bin_dirs: str, *args: str, python: str = sys.executable, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **(extra_env or {}),
        "PATH": f"{recorders}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "STURDYDB_SETUP_BIN_DIRS": bin_dirs,
        "STURDYDB_SETUP_PYTHON": python,
    }
    env.pop("STURDYDB_PG_BINDIR", None)
    proc = subprocess.run(["bash", str(SETUP), *args], capture_output=True, text=True, timeout=120, env=env)
    calls = recorders.parent / "calls.log"
    made = calls.read_text() if calls.exists() else ""
    assert "apt-get" not in made, f"the step called apt-get in a mode that must not install: {made}"
    return proc


def _venv_packages() -> list[str]:
    # The interpreter running the tests is the one the step checks; Debian's system Python
    # lacks ensurepip until python3-venv is installed.
    probe = subprocess.run([sys.executable, "-c", "import venv, ensurepip"], capture_output=True, timeout=60)
    return [] if probe.returncode == 0 else ["python3-venv"]


def _install_line(output: str) -> str:
    lines = [line for line in output.splitlines() if INSTALL in line]
    assert len(lines) == 1, output
    return lines[0].split(INSTALL, 1)[1].strip()


@pytest.fixture
def empty(tmp_path: Path) -> str:
    """A folder without any program: the step searches only here, so nothing is installed."""
    folder = tmp_path / "empty"
    folder.mkdir()
    return str(folder)


@pytest.fixture
def present_dirs() -> str:
    """The folders holding both engines' server programs on this machine."""
    mariadb = find_mariadb()
    return os.pathsep.join(
        [str(find_postgres().bindir), str(Path(mariadb.mariadbd).parent), str(Path(mariadb.install_db).parent)]
    )


def test_dry_run_with_the_servers_hidden_plans_both_engines_packages(recorders: Path, empty: str) -> None:
    proc = _run(recorders, empty, "--dry-run", "test")
    assert proc.returncode == 0, proc.stderr
    assert "dry run" in proc.stdout
    assert _install_line(proc.stdout).split() == [*_venv_packages(), "postgresql", "mariadb-server", "mariadb-client"]


@pytest.mark.parametrize(
    ("engine", "packages"), [("pg", ["postgresql"]), ("mysql", ["mariadb-server", "mariadb-client"])]
)
def test_dry_run_for_the_demo_plans_only_the_engine_it_runs(
    recorders: Path, empty: str, engine: str, packages: list[str]
) -> None:
    proc = _run(recorders, empty, "--dry-run", "demo", engine)
    assert proc.returncode == 0, proc.stderr
    assert _install_line(proc.stdout).split() == [*_venv_packages(), *packages]
    # The demo starts its own clusters: the machine's servers are not part of its plan.
    assert "127.0.0.1:5432" not in proc.stdout


@pytest.mark.parametrize("python", ["/bin/false", "/nonexistent/python3"])
def test_dry_run_plans_the_venv_module_when_python_cannot_make_venvs(
    recorders: Path, present_dirs: str, python: str
) -> None:
    proc = _run(recorders, present_dirs, "--dry-run", "demo", python=python)
    assert proc.returncode == 0, proc.stderr
    expected = ["python3-venv"] if python == "/bin/false" else ["python3", "python3-venv"]
    assert _install_line(proc.stdout).split() == expected


def test_dry_run_with_the_servers_present_plans_nothing(recorders: Path, present_dirs: str) -> None:
    proc = _run(recorders, present_dirs, "--dry-run", "test")
    assert proc.returncode == 0, proc.stderr
    assert "nothing to install" in proc.stdout
    assert INSTALL not in proc.stdout + proc.stderr
    # The suite's own servers run on this machine (the core's tests use them).
    assert "PostgreSQL on 127.0.0.1:5432 is ready" in proc.stdout
    assert "MariaDB on 127.0.0.1:3306 is ready" in proc.stdout
    engines = _run(recorders, present_dirs, "engines")
    assert engines.stdout.split() == ["pg", "mysql"]


@pytest.mark.parametrize("how", ["--no-install", "STURDYDB_SETUP_NO_INSTALL=1"])
def test_without_installing_the_demo_falls_back_to_the_engine_present(recorders: Path, how: str) -> None:
    mariadb = find_mariadb()
    only_mariadb = os.pathsep.join([str(Path(mariadb.mariadbd).parent), str(Path(mariadb.install_db).parent)])
    assert _run(recorders, only_mariadb, "engines").stdout.split() == ["mysql"]
    if how.startswith("--"):
        proc = _run(recorders, only_mariadb, how, "demo")
    else:
        proc = _run(recorders, only_mariadb, "demo", extra_env={"STURDYDB_SETUP_NO_INSTALL": "1"})
    # Not fatal for the demo (./dev then runs it with --engine mysql), but says what to run.
    assert proc.returncode == 0, proc.stderr
    assert "missing PostgreSQL server programs" in proc.stderr
    assert f"{INSTALL} postgresql" in proc.stderr


def test_without_installing_the_suite_fails_naming_the_command(recorders: Path, empty: str) -> None:
    proc = _run(recorders, empty, "--no-install", "test")
    assert proc.returncode == 1
    assert "MariaDB server programs" in proc.stderr
    assert _install_line(proc.stderr).split() == [*_venv_packages(), "postgresql", "mariadb-server", "mariadb-client"]
