"""The border between core and everything else: other code imports only public core names.

Core's public surface is the ``sturdydb`` package itself, ``sturdydb.plugin_api`` (what a
plugin needs) and the two DB-API module shims. Every other core module is private (a leading
underscore), and no distribution but core may import it or any underscore name. This test
reads the import statements of every other package's sources, tests and benchmarks, the example
plugin, the demo and the root benchmarks, so a new private import fails here, with the file and
line to fix.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
CORE = ROOT / "packages" / "core" / "src" / "sturdydb"

#: Core modules that are public on purpose; every other module or subpackage is ``_private``.
PUBLIC_MODULES = frozenset({"plugin_api", "hookspecs", "psycopg", "mysql_connector"})

#: Files outside core that may read private core state, each with the reason. Only tests whose
#: subject *is* that state belong here; no source, example, demo or benchmark ever does.
READS_INTERNALS_ON_PURPOSE: dict[str, str] = {
    "packages/plugin-failover/tests/integration/test_fork_safety.py":
        "asserts that every piece of the core's process state is empty in a forked child",
    "packages/plugin-failover/tests/integration/test_reader_selection_on_clusters.py":
        "waits for the shared response-time probers' rounds, which no public API exposes, so that"
        " fastest_response's settled choice is not mistaken for luck of its random fallback",
    "packages/plugin-read-write/tests/integration/test_weights_honoured_on_clusters.py":
        "seeds the selectors' random generator (sturdydb._selectors.rng, documented there as the"
        " one tests replace) so that 1,000 weighted picks on a real cluster are reproducible",
}


def _outside_core_files() -> list[pathlib.Path]:
    files: list[pathlib.Path] = []
    for package in sorted((ROOT / "packages").iterdir()):
        if package.name == "core" or not (package / "pyproject.toml").is_file():
            continue
        files += sorted(package.rglob("*.py"))
    for folder in ("examples", "demo", "benchmarks"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return [f for f in files if not any(part.startswith(".") for part in f.relative_to(ROOT).parts)]


def _is_core_module(name: str) -> bool:
    return (CORE / f"{name}.py").exists() or (CORE / name / "__init__.py").exists()


def _violations(path: pathlib.Path, where: str = "") -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    where = where or str(path.relative_to(ROOT))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sturdydb" and len(parts) > 1 and parts[1] not in PUBLIC_MODULES:
                    found.append(f"{where}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "sturdydb":
                continue
            if len(parts) > 1 and parts[1] not in PUBLIC_MODULES:
                found.append(f"{where}:{node.lineno}: from {node.module} import ...")
                continue
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(f"{where}:{node.lineno}: from {node.module} import {alias.name}")
                elif len(parts) == 1 and alias.name not in PUBLIC_MODULES and _is_core_module(alias.name):
                    found.append(f"{where}:{node.lineno}: from sturdydb import {alias.name} (a module)")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            if isinstance(base, ast.Name) and base.id == "sturdydb":
                found.append(f"{where}:{node.lineno}: sturdydb.{node.attr}")
    return found


def test_no_package_other_than_core_imports_a_private_core_name() -> None:
    files = _outside_core_files()
    assert len(files) > 50, "the scan found too few files: is ROOT right?"
    exempt = {ROOT / path for path in READS_INTERNALS_ON_PURPOSE}
    assert all(path.is_file() and "/tests/" in str(path) for path in exempt), "stale or non-test exemption"
    violations = [v for f in files if f not in exempt for v in _violations(f)]
    assert not violations, (
        "these import private core names; use `sturdydb` or `sturdydb.plugin_api` instead:\n"
        + "\n".join(violations)
    )


def test_every_core_module_outside_the_public_api_is_private() -> None:
    public = []
    for entry in sorted(CORE.iterdir()):
        name = entry.stem if entry.suffix == ".py" else entry.name
        if entry.name in ("__init__.py", "py.typed", "__pycache__"):
            continue
        if entry.suffix not in (".py", "") or (entry.is_dir() and not (entry / "__init__.py").exists()):
            continue
        if not name.startswith("_") and name not in PUBLIC_MODULES:
            public.append(entry.name)
    assert not public, f"core modules that are neither private nor in the public API: {public}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from sturdydb._watchdog import bounded\n", 1),
        ("import sturdydb._pipeline\n", 1),
        ("from sturdydb.plugin_api import _hidden\n", 1),
        ("import sturdydb\nsturdydb._pipelines.clear()\n", 1),
        ("from sturdydb.plugin_api import bounded\nfrom sturdydb import Plugin\n", 0),
        ("import sturdydb.psycopg\n", 0),
    ],
)
def test_the_contract_checker_catches_private_imports(tmp_path: pathlib.Path, source: str, expected: int) -> None:
    # The checker itself must be able to fail: feed it known-bad and known-good sources.
    path = tmp_path / "sample.py"
    path.write_text(source)
    assert len(_violations(path, where="sample.py")) == expected
