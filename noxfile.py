"""Developer and CI sessions for the sturdydb monorepo.

Packages are discovered by globbing ``packages/*/pyproject.toml``; nothing here lists them.
``tests-<package>`` installs only the core plus that one package (and its ``test`` extra) so
that a hidden dependency on another package fails; ``integration`` installs everything and
runs every package's ``tests/integration/`` folder (tests that combine packages on the
local clusters of ``sturdydb-testing``). The README's two commands are ``./dev demo`` and
``./dev test``, which run ``nox -s demo`` and ``nox -s lint typecheck tests integration``.
"""

from __future__ import annotations

import pathlib
from typing import Any

import nox
import tomllib

ROOT = pathlib.Path(__file__).parent
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests", "integration"]

PYTHON = "3.11"
TEST_TOOLS = ["pytest>=8", "pytest-timeout>=2.3"]
DRIVERS = ["psycopg[binary]>=3.1.12", "mysql-connector-python>=8.1", "psycopg2-binary>=2.9", "PyMySQL>=1.1"]


def _packages() -> dict[str, pathlib.Path]:
    found = {}
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        found[pyproject.parent.name] = pyproject.parent
    return found


PACKAGES = _packages()


def _project(path: pathlib.Path) -> dict[str, Any]:
    return tomllib.loads((path / "pyproject.toml").read_text()).get("project", {})  # type: ignore[no-any-return]


#: distribution name -> folder, for the repository's own distributions.
DISTRIBUTIONS = {_project(p)["name"]: p for p in PACKAGES.values()}


def _local_closure(path: pathlib.Path) -> list[pathlib.Path]:
    """``path`` and every repository package it depends on, dependencies first."""
    ordered: list[pathlib.Path] = []

    def visit(p: pathlib.Path) -> None:
        if p in ordered:
            return
        for req in _project(p).get("dependencies", []):
            name = req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()
            if name in DISTRIBUTIONS:
                visit(DISTRIBUTIONS[name])
        ordered.append(p)

    visit(path)
    return ordered


def _test_extra(path: pathlib.Path) -> list[str]:
    """A package's ``test`` extra, without this repository's own distributions.

    Sibling packages are installed from their folders (editable), never resolved from the
    registry, so a ``sturdydb-*`` name in an extra must not reach the installer.
    """
    extra = _project(path).get("optional-dependencies", {}).get("test", [])
    return [req for req in extra if not req.lower().startswith("sturdydb")]


def _test_extra_packages(path: pathlib.Path) -> list[pathlib.Path]:
    """The repository packages that ``path``'s ``test`` extra names (``sturdydb-testing``, say).

    They are test dependencies like any other, only installed from their folders: the tests
    session installs them (and what they depend on) editable, so a package's tests still get
    exactly what the package declares.
    """
    extra = _project(path).get("optional-dependencies", {}).get("test", [])
    names = [req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()
             for req in extra]
    return [DISTRIBUTIONS[name] for name in names if name in DISTRIBUTIONS]


def _editable(path: pathlib.Path) -> list[str]:
    return ["-e", str(path), *_test_extra(path)]


def _install_all(session: nox.Session) -> None:
    args: list[str] = []
    for path in PACKAGES.values():
        args += _editable(path)
    # The testing package's extras bring the AWS emulation (moto, cryptography) too.
    args += ["-e", f"{PACKAGES['testing']}[all]"]
    for example in sorted(ROOT.glob("examples/*/pyproject.toml")):
        args += ["-e", str(example.parent)]
    # matplotlib draws the demo's timeline (the demo also runs as an integration test).
    session.install(*TEST_TOOLS, *DRIVERS, "matplotlib>=3.8", *args)


#: What the demo runs on: the plugins it shows, the cluster package, the drivers and the chart
#: library. No test extras and no AWS emulation (moto, cryptography), so that the first
#: ``./dev demo`` on a fresh machine installs as little as it can.
DEMO_PACKAGES = ("core", "plugin-failover", "plugin-efm", "testing")


def _install_demo(session: nox.Session) -> None:
    args: list[str] = []
    for name in DEMO_PACKAGES:
        args += ["-e", str(PACKAGES[name])]
    session.install(*DRIVERS, "matplotlib>=3.8", *args)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package's sources."""
    _install_all(session)
    session.install("mypy>=1.11", "types-requests", "types-psycopg2", "types-PyMySQL", "boto3-stubs[rds,sts,secretsmanager]")
    sources = [str(p / "src") for p in PACKAGES.values()]
    sources += [str(p / "src") for p in sorted(ROOT.glob("examples/*")) if (p / "src").is_dir()]
    scripts = [str(p) for p in sorted(ROOT.glob("benchmarks/*.py")) + sorted(ROOT.glob("demo/*.py"))
               + sorted(ROOT.glob("packages/*/benchmarks/*.py"))]
    session.run("mypy", *sources)
    session.run("mypy", *scripts)


@nox.session(python=PYTHON)
@nox.parametrize("package", list(PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """One package's own tests, with only that package and what it declares it needs.

    That is the core plus the package (and, for plugins built on shared repository packages,
    those packages), plus the repository packages its ``test`` extra names (installed from
    their folders): a hidden dependency on anything else fails here.
    """
    path = PACKAGES[package]
    args: list[str] = []
    wanted = _local_closure(path)
    for extra in _test_extra_packages(path):
        wanted += [dep for dep in _local_closure(extra) if dep not in wanted]
    for dep in wanted:
        args += _editable(dep)
    session.install(*TEST_TOOLS, *DRIVERS, *args)
    if package == "core":
        # The example third-party plugin is part of the core's contract tests.
        for example in sorted(ROOT.glob("examples/*/pyproject.toml")):
            session.install("-e", str(example.parent))
    session.run("pytest", str(path / "tests"), f"--ignore={path / 'tests' / 'integration'}",
                *session.posargs, success_codes=[0, 5])


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Tests that combine packages on real local clusters (``tests/integration/`` folders)."""
    _install_all(session)
    paths = [p / "tests" / "integration" for p in PACKAGES.values() if (p / "tests" / "integration").is_dir()]
    if not paths:
        session.log("no integration tests yet")
        return
    # One pytest process per package: test helpers and conftest modules of different
    # packages share names, and separate processes keep them from shadowing each other.
    # Every package runs even after one fails, so a CI log shows every failure at once.
    failed: list[str] = []
    for path in paths:
        try:
            session.run("pytest", str(path), *session.posargs)
        except nox.command.CommandFailed:
            failed.append(str(path.relative_to(ROOT)))
    if failed:
        session.error(f"integration tests failed in: {', '.join(failed)}")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The README's first command: the demo (pass options after --)."""
    _install_demo(session)
    session.run("python", str(ROOT / "demo" / "run_demo.py"), *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every benchmark; rewrites BENCHMARKS.md."""
    _install_all(session)
    session.install("moto[server]>=5", "boto3>=1.34")
    session.run("python", str(ROOT / "benchmarks" / "run_all.py"), *session.posargs)


@nox.session(python=PYTHON)
def bench_reference(session: nox.Session) -> None:
    """sturdydb's SQLAlchemy dialect beside the reference wrapper's, through a writer kill.

    The reference (``aws-advanced-python-wrapper``) is installed in this session's own
    environment only: no sturdydb distribution depends on it. Options go after ``--``.
    """
    _install_reference(session)
    session.run("python", str(ROOT / "packages" / "sqlalchemy" / "benchmarks" / "_orm_failover_vs_reference.py"),
                *session.posargs)


@nox.session(python=PYTHON)
def bench_reference_async(session: nox.Session) -> None:
    """An asyncio task through a writer kill: sturdydb's connect_async beside the reference's
    async connection (psycopg AsyncConnection; aiomysql for MariaDB, the only MySQL driver its
    async side supports). Same environment rule as ``bench_reference``; options after ``--``.
    """
    _install_reference(session)
    session.install("aiomysql")
    session.run("python", str(ROOT / "packages" / "plugin-failover" / "benchmarks" / "_async_failover_vs_reference.py"),
                *session.posargs)


def _install_reference(session: nox.Session) -> None:
    """Everything, plus the reference wrapper, in this benchmark session's environment only."""
    _install_all(session)
    session.install("aws-advanced-python-wrapper")


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """The fault soak (``benchmarks/soak.py``): both engines, 90 s of random faults each.

    Options go after ``--``: ``--duration 600`` for a long soak, ``--engine pg``, ``--seed N``,
    ``--publish`` to rewrite the soak section of BENCHMARKS.md. CI runs a 30 s version per engine
    as an integration test (``packages/plugin-failover/tests/integration/test_soak.py``).
    """
    _install_all(session)
    session.run("python", str(ROOT / "benchmarks" / "soak.py"), *session.posargs)
