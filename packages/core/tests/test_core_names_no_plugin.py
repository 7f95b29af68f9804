"""Core knows no plugin by name: no plugin code or plugin distribution appears as a string in core.

Codes, properties, presets and install hints come from the plugin distributions themselves
(entry points and contribution hooks). A string literal in core's sources equal to one of our
plugin codes or distribution names would mean core decides something about that plugin.
Docstrings and comments may still mention plugins as examples; only code is checked.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

CORE = pathlib.Path(__file__).resolve().parents[1] / "src" / "sturdydb"
PACKAGES = CORE.parents[2]

#: Strings that equal a plugin code but mean something else, with the reason.
SAME_WORD_OTHER_MEANING = {
    ("_drivers/mysql.py", "failover"): "mysql-connector's own 'failover' connect argument (a driver keyword)",
}


def _our_plugin_names() -> set[str]:
    """Every plugin code and plugin distribution of this repository, from the packages' own
    entry points, so a new plugin package is covered without editing this test."""
    import tomllib

    names: set[str] = set()
    for pyproject in PACKAGES.glob("*/pyproject.toml"):
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        codes = project.get("entry-points", {}).get("sturdydb.plugins", {})
        if codes:
            names |= set(codes)
            names.add(project["name"])
    return names


def _string_literals(path: pathlib.Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_our_plugins_are_found_from_their_distributions() -> None:
    names = _our_plugin_names()
    assert {"failover", "host_monitoring", "iam", "sturdydb-failover"} <= names, names


def test_no_core_source_names_a_plugin() -> None:
    names = _our_plugin_names()
    found = [
        f"{path.relative_to(CORE)}:{line}: {value!r}"
        for path in sorted(CORE.rglob("*.py"))
        for line, value in _string_literals(path)
        if value in names and (str(path.relative_to(CORE)), value) not in SAME_WORD_OTHER_MEANING
    ]
    assert not found, "core names plugins; let the plugin contribute this instead:\n" + "\n".join(found)


@pytest.mark.parametrize(("source", "expected"), [('x = "failover"\n', 1), ('"""failover docs"""\n', 0)])
def test_the_scan_sees_code_strings_but_not_docstrings(tmp_path: pathlib.Path, source: str, expected: int) -> None:
    path = tmp_path / "sample.py"
    path.write_text(source)
    assert len([v for _, v in _string_literals(path) if v == "failover"]) == expected
